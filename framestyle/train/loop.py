"""Shared pieces of every training loop: seeding, checkpoints, schedules, export + card + registration."""
from __future__ import annotations

import math
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from ..imageio import atomic_file
from ..zoo.card import save_card


def seed_all(seed: int) -> None:
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cosine_lr(base: float, frac: float, warm: float = 0.02, floor: float = 0.02) -> float:
    if frac < warm:
        return base * max(frac / warm, 0.05)
    p = min(1.0, (frac - warm) / (1 - warm))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def set_lr(opt, value: float) -> None:
    for g in opt.param_groups:
        g["lr"] = value * g.get("lr_scale", 1.0)


def param_groups(net, lr: float) -> list:
    """Adam parameter groups: a net's own `lr_scales()` ({parameter name prefix or part: scale}) slow some
    parameters down (e.g. style maps read a 100-number vector: one Adam step moves their output ~|v|_1 times
    more than a conv weight's); everything else at `lr`."""
    scales = getattr(net, "lr_scales", lambda: {})()
    groups = {}
    for name, p in net.named_parameters():
        s = next((v for k, v in scales.items() if k in name), 1.0)
        groups.setdefault(s, []).append(p)
    return [{"params": ps, "lr": lr * s, "lr_scale": s} for s, ps in groups.items()]


def optimise(opt, loss, step: int, hint: str = "lower --lr") -> None:
    """One optimiser step on `loss`; a non-finite loss stops training with a UserError saying `hint`."""
    import torch
    if not torch.isfinite(loss):
        raise UserError(f"loss became non-finite at step {step}: {hint}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def running_average(avg, value, decay: float):
    """Exponential running average of a float, an array, or a dict of tensors/floats (avg None starts it)."""
    if isinstance(value, dict):
        avg = {} if avg is None else avg
        for k, v in value.items():
            v = float(v.detach()) if hasattr(v, "detach") else float(v)
            avg[k] = v if k not in avg else decay * avg[k] + (1 - decay) * v
        return avg
    value = value.detach() if hasattr(value, "detach") else value
    value = float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)
    return value if avg is None else decay * avg + (1 - decay) * value


def log_step(bar, log, avg: dict, step: int, elapsed: float, lr: float, every: int = 10) -> None:
    """Progress bar tick, and a CSV row of the running-average losses every `every` steps (and the first)."""
    bar.update(1)
    bar.set_postfix(loss=f"{avg['total']:.4g}")
    if step % every == 0 or step == 1:
        log.write(step=step, elapsed_s=round(elapsed, 1), lr=f"{lr:.2e}", **{k: f"{v:.5g}" for k, v in avg.items()})


class Budget:
    """Stop after N steps or M minutes (of training time, summed across resumes)."""

    def __init__(self, steps: Optional[int], minutes: Optional[float]):
        if not steps and not minutes:
            raise UserError("give --steps N or --minutes M")
        if (steps is not None and steps <= 0) or (minutes is not None and minutes <= 0):
            raise UserError("--steps and --minutes must be positive")
        self.steps, self.minutes = steps, minutes

    def frac(self, step: int, elapsed: float) -> float:
        if self.steps:
            return step / self.steps
        return elapsed / (self.minutes * 60.0)

    def done(self, step: int, elapsed: float) -> bool:
        return self.frac(step, elapsed) >= 1.0


def prepare_workdir(workdir: Optional[Path], name: str, resume: bool):
    """-> (work dir, checkpoint path): runs/NAME by default; refuses to clobber a run unless resuming."""
    workdir = Path(workdir or Path("runs") / name)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = workdir / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise UserError(f"{ckpt} exists: pass --resume to continue it, or choose another -o / --workdir")
    if resume and not ckpt.exists():
        raise UserError(f"--resume: no checkpoint at {ckpt}")
    return workdir, ckpt


def save_checkpoint(path: Path, **state) -> None:
    import torch
    state["rng"] = {"py": random.getstate(), "np": np.random.get_state(), "torch": torch.get_rng_state()}
    with atomic_file(path) as f:
        torch.save(state, f)


@contextmanager
def checkpointed(ckpt: Path, state, bar):
    """Around a training loop: Ctrl-C saves `state()` and stops with one error line; the bar is closed either way
    and the checkpoint saved when the loop ends."""
    try:
        yield
    except KeyboardInterrupt:
        save_checkpoint(ckpt, **state())
        raise UserError(f"interrupted at step {state()['step']}; checkpoint saved to {ckpt} "
                        "(continue with --resume)") from None
    finally:
        bar.close()
    save_checkpoint(ckpt, **state())


def load_checkpoint(path: Path) -> dict:
    import torch
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise UserError(f"{path}: cannot read checkpoint ({exc})") from None
    rng = state.get("rng")
    if rng:
        random.setstate(rng["py"])
        np.random.set_state(rng["np"])
        torch.set_rng_state(rng["torch"])
    return state


def resume_net(ckpt: Path, net, opt, arch: str, arch_kwargs: Optional[dict]) -> dict:
    """Load a checkpoint into `net` and `opt` after checking it holds the same architecture; returns it."""
    st = load_checkpoint(ckpt)
    if st.get("arch") != arch or st.get("arch_kwargs", {}) != (arch_kwargs or {}):
        raise UserError(f"{ckpt} holds a {st.get('arch')} {st.get('arch_kwargs')} net, not {arch} {arch_kwargs or {}}")
    net.load_state_dict(st["model"])
    opt.load_state_dict(st["opt"])
    return st


def command_line() -> str:
    argv = [Path(sys.argv[0]).name] + sys.argv[1:]
    return " ".join(a if " " not in a else f'"{a}"' for a in argv)


class CsvLog:
    def __init__(self, path: Path, fields):
        self.path, self.fields = path, list(fields)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(",".join(self.fields) + "\n")

    def write(self, **row) -> None:
        with open(self.path, "a") as fh:
            fh.write(",".join(str(row.get(f, "")) for f in self.fields) + "\n")


def finish_model(net, name: str, card: dict, out_dir: Optional[Path] = None, multiple: int = 8) -> Path:
    """Export to ONNX, write the card next to it; default destination: the user zoo."""
    from ..export.onnx import export_onnx
    from ..outputs import model_output
    path = model_output(name, out_dir, force=True)  # a plain name inside out_dir (the CLI refused clashes)
    net = net.cpu().eval()
    net = net.for_export() if hasattr(net, "for_export") else net  # e.g. mg folds its fixed style into constants
    stats = export_onnx(net, path, multiple=multiple)
    card = dict(card)
    card.update(name=name, export=stats, created=time.strftime("%Y-%m-%d %H:%M:%S"))
    card.setdefault("input", {"name": "input", "layout": "NCHW", "range": "0..1 RGB float32", "multiple": multiple})
    card["params"] = int(sum(p.numel() for p in net.parameters()))
    save_card(path, card)  # with its kmac_per_pixel
    return path


def check_teacher(net, teacher) -> None:
    """Teacher-shaped nets (ms26, mg, cond-mg) refuse another teacher; call before any slow labelling."""
    if hasattr(net, "check_teacher"):
        net.check_teacher(teacher)


def start_from_teacher(net, teacher, inputs, score, progress: bool = True, **kw) -> dict:
    """Before the first step, a teacher-shaped net copies the teacher's weights (and fits its stem on `inputs`);
    -> what it did, its seconds (not counted in the training minutes) and `score(net)`, for the card. {} if n/a."""
    if not hasattr(net, "start_from"):
        return {}
    t0 = time.perf_counter()
    start = net.start_from(teacher, inputs, progress=progress, **kw)
    start["seconds"] = round(time.perf_counter() - t0, 1)
    start["heldout_psnr"] = round(score(net), 3)
    return start


def net_multiple(net) -> int:
    return int(getattr(net, "multiple", 0) or getattr(net, "factor", 0) or 8)
