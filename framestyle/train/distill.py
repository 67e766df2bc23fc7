"""Distillation: a big teacher labels content images, a tiny student learns them with a pixel loss.

Teacher outputs are computed once per content image at full frame (so the student learns what the
teacher does on whole frames, global instance-norm statistics included), then every step draws fresh
random crops and rescales of (input, target) pairs.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import UserError
from ..imageio import atomic_write_json
from .data import default_sources, held_out_images, load_content, resize_long
from .losses import distill_loss
from .loop import (Budget, CsvLog, command_line, cosine_lr, finish_model, load_checkpoint, net_multiple,
                   prepare_workdir, save_checkpoint, seed_all)


def make_pairs(teacher, imgs: List[np.ndarray], flips: bool = True, progress: bool = True):
    from tqdm import tqdm
    pairs = []
    for img in tqdm(imgs, desc="teacher", disable=not progress, unit="img"):
        variants = [img, np.ascontiguousarray(img[:, ::-1])] if flips else [img]
        for v in variants:
            pairs.append((v, (teacher(v) * 255 + 0.5).astype(np.uint8)))
    return pairs


def cached_pairs(teacher, imgs, names, progress: bool = True):
    """Teacher targets cached on disk (keyed by teacher + content names) so restarts skip the labelling."""
    from ..paths import cache_dir
    key = hashlib.sha256((teacher.spec + "\n" + "\n".join(names)).encode()).hexdigest()[:16]
    path = cache_dir() / "pairs" / f"{key}.npz"
    if path.exists():
        try:
            z = np.load(path)
            n = len([k for k in z.files if k.startswith("x")])
            return [(z[f"x{i}"], z[f"y{i}"]) for i in range(n)]
        except (OSError, ValueError, KeyError):
            pass
    pairs = make_pairs(teacher, imgs, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.npz")
    np.savez(tmp, **{f"x{i}": x for i, (x, _) in enumerate(pairs)}, **{f"y{i}": y for i, (_, y) in enumerate(pairs)})
    tmp.replace(path)
    return pairs


def sample_batch(pairs, batch: int, crop: int, rng: np.random.Generator):
    import torch
    import torch.nn.functional as F
    xs, ys = [], []
    for _ in range(batch):
        x, y = pairs[rng.integers(len(pairs))]
        h, w = x.shape[:2]
        scale = rng.uniform(0.6, 1.0)
        c = int(min(h, w, crop / scale))
        c = max(c, min(h, w, crop // 2))
        top, left = rng.integers(0, h - c + 1), rng.integers(0, w - c + 1)
        xs.append(torch.from_numpy(np.ascontiguousarray(x[top:top + c, left:left + c])).permute(2, 0, 1))
        ys.append(torch.from_numpy(np.ascontiguousarray(y[top:top + c, left:left + c])).permute(2, 0, 1))
        if c != crop:
            xs[-1] = F.interpolate(xs[-1][None].float(), size=(crop, crop), mode="area")[0]
            ys[-1] = F.interpolate(ys[-1][None].float(), size=(crop, crop), mode="area")[0]
    x = torch.stack([t.float() for t in xs]) / 255.0
    y = torch.stack([t.float() for t in ys]) / 255.0
    return x, y


def evaluate(net, evalset) -> float:
    import torch
    import torch.nn.functional as F
    net.eval()
    vals = []
    with torch.no_grad():
        for x, y in evalset:
            h, w = x.shape[:2]
            m = net_multiple(net)
            t = torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255
            ph, pw = (-h) % m, (-w) % m
            t = F.pad(t, (0, pw, 0, ph), mode="reflect")
            o = net(t)[0, :, :h, :w].permute(1, 2, 0).numpy()
            mse = float(np.mean((o - y.astype(np.float32) / 255) ** 2))
            vals.append(10 * np.log10(1 / max(mse, 1e-10)))
    net.train()
    return float(np.mean(vals))


def distill(teacher: str, name: str, arch: str = "fast", arch_kwargs: Optional[dict] = None,
            content: Optional[List[str]] = None, steps: Optional[int] = None, minutes: Optional[float] = None,
            batch: int = 8, crop: int = 256, lr: float = 2e-3, seed: int = 0, workdir: Optional[Path] = None,
            resume: bool = False, out_dir: Optional[Path] = None, eval_every: int = 250,
            progress: bool = True, threads: Optional[int] = None, grad_weight: float = 0.5) -> dict:
    import torch
    from tqdm import tqdm
    from ..nets import build
    from ..zoo.teachers import Teacher

    budget = Budget(steps, minutes)
    if threads:
        torch.set_num_threads(threads)
    seed_all(seed)
    workdir, ckpt = prepare_workdir(workdir, name, resume)

    t_spec = Teacher(teacher, threads=threads)
    sources = content or default_sources()
    imgs, names = load_content(sources)
    pairs = cached_pairs(t_spec, imgs, names, progress)
    evalset = [(x, (t_spec(x) * 255 + 0.5).astype(np.uint8))
               for x in (resize_long(__import__("framestyle").load_image(p), 512) for p in held_out_images())]
    if not evalset:
        evalset = pairs[:4]

    net = build(arch, **(arch_kwargs or {}))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    step, elapsed, best, history = 0, 0.0, -1.0, []
    if resume:
        st = load_checkpoint(ckpt)
        net.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed, history = st["step"], st["elapsed"], st.get("history", [])
    log = CsvLog(workdir / "log.csv", ["step", "elapsed_s", "loss", "lr", "eval_psnr"])
    net.train()
    bar = tqdm(desc=f"distill {name}", total=budget.steps or None, initial=step, disable=not progress, unit="step")
    last_good = None
    t0 = time.perf_counter() - elapsed
    loss_avg = None
    while not budget.done(step, elapsed):
        cur_crop = crop if budget.frac(step, elapsed) > 0.3 else max(64, crop // 2)
        rng = np.random.default_rng([seed, step])  # per-step stream: a resumed run draws the same batches
        x, y = sample_batch(pairs, batch if cur_crop == crop else batch * 2, cur_crop, rng)
        cur_lr = cosine_lr(lr, budget.frac(step, elapsed))
        for g in opt.param_groups:
            g["lr"] = cur_lr
        out = net(x)
        loss = distill_loss(out, y, grad_weight)
        if not torch.isfinite(loss):
            if last_good is None:
                raise UserError("loss became non-finite at the first steps; lower --lr")
            save_checkpoint(ckpt, **last_good)
            raise UserError(f"loss became non-finite at step {step}; kept the last good checkpoint {ckpt}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        elapsed = time.perf_counter() - t0
        lv = float(loss.detach())
        loss_avg = lv if loss_avg is None else 0.98 * loss_avg + 0.02 * lv
        bar.update(1)
        row = None
        if step % eval_every == 0 or budget.done(step, elapsed):
            p = evaluate(net, evalset)
            best = max(best, p)
            history.append([step, round(elapsed, 1), round(p, 3)])
            row = p
            bar.set_postfix(loss=f"{loss_avg:.4f}", heldout_psnr=f"{p:.2f}")
            last_good = copy.deepcopy({"model": net.state_dict(), "opt": opt.state_dict(), "step": step,
                                       "elapsed": elapsed, "history": history, "arch": arch,
                                       "arch_kwargs": arch_kwargs or {}})
            save_checkpoint(ckpt, **last_good)
        if step % 20 == 0 or row is not None:
            log.write(step=step, elapsed_s=round(elapsed, 1), loss=round(loss_avg, 6), lr=f"{cur_lr:.2e}",
                      eval_psnr="" if row is None else round(row, 3))
    bar.close()
    save_checkpoint(ckpt, model=net.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                    history=history, arch=arch, arch_kwargs=arch_kwargs or {})
    card = {
        "kind": "fixed", "teacher": t_spec.label, "arch": arch, "arch_kwargs": arch_kwargs or {},
        "description": f"{arch} student distilled from {t_spec.label}",
        "licence": "Apache-2.0 (trained here from Apache-2.0 teacher weights)",
        "training": {"command": command_line(), "method": "distillation (pixel MSE + gradient MSE)",
                     "steps": step, "minutes": round(elapsed / 60, 1), "batch": batch, "crop": crop, "lr": lr,
                     "seed": seed, "data": _describe(sources, names), "eval_history": history},
    }
    path = finish_model(net, name, card, out_dir, multiple=net_multiple(net))
    fid = measure_fidelity(path, t_spec)
    card_path = path.with_suffix(".json")
    full = json.loads(card_path.read_text())
    full["fidelity"] = fid
    atomic_write_json(card_path, full)
    return {"name": name, "path": str(path), "steps": step, "minutes": round(elapsed / 60, 2), "fidelity": fid}


def _describe(sources, names) -> dict:
    h = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    return {"sources": [str(s) for s in sources], "images": len(names), "names_sha256": h,
            "held_out": [p.name for p in held_out_images()]}


def measure_fidelity(model_path, teacher, images=None, size: int = 512) -> dict:
    """PSNR/SSIM of the exported ONNX (through the Stylizer) vs the teacher on held-out photos at `size` px."""
    from ..imageio import load_image
    from ..metrics.fidelity import psnr, ssim
    from ..runtime.stylizer import Stylizer
    st = Stylizer(str(model_path))
    rows = []
    for p in images or held_out_images():
        x = resize_long(load_image(p), size)
        s = st.stylize(x)
        t = (teacher(x) * 255 + 0.5).astype(np.uint8)
        rows.append({"image": Path(p).name, "psnr": round(psnr(s, t), 2), "ssim": round(ssim(s, t), 4)})
    if not rows:
        return {}
    return {"psnr": round(float(np.mean([r["psnr"] for r in rows])), 2),
            "ssim": round(float(np.mean([r["ssim"] for r in rows])), 4), "size": size, "per_image": rows}
