"""Fast style transfer from one painting (Johnson et al. 2016): a real-time student trained directly.

No teacher: the student's output is scored by a frozen ImageNet feature network, content loss against
the input photo, style loss (Gram or mean/std) against the painting, plus total variation. Every step
draws a fresh batch from rng(seed, step), so a resumed run repeats an uninterrupted one exactly.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..errors import UserError
from .data import default_sources, held_out_images, load_content, resize_long
from .loop import (Budget, CsvLog, checkpointed, command_line, cosine_lr, finish_model, log_step, net_multiple,
                   optimise, prepare_workdir, resume_net, running_average, save_checkpoint, seed_all,
                   set_lr)
from .paired import geometric, to_tensor, write_sample

# Defaults balance the terms at the start of training for efficientnet-lite0 (see docs/training.md).
DEFAULT_WEIGHTS = {"content": 1.0, "style": 100.0, "tv": 1.0}


def pick_device(device: Optional[str] = None) -> str:
    import torch
    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device available")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def usable_content(imgs: List[np.ndarray], names: List[str], size: int):
    """Keep images whose shorter side reaches the crop size; UserError when none does."""
    keep = [(i, n) for i, n in zip(imgs, names) if min(i.shape[:2]) >= size]
    if not keep:
        small = ", ".join(f"{n} ({i.shape[1]}x{i.shape[0]})" for i, n in list(zip(imgs, names))[:3])
        raise UserError(f"every content image is smaller than the crop size {size} px (e.g. {small}); "
                        f"lower --size or add larger images")
    return [k[0] for k in keep], [k[1] for k in keep]


def sample_batch(imgs: List[np.ndarray], batch: int, size: int, rng: np.random.Generator):
    import torch
    crops = [geometric([imgs[rng.integers(len(imgs))]], size, rng)[0] for _ in range(batch)]
    return torch.stack([to_tensor(c) for c in crops])


def train_perceptual(style_image, name: str, arch: str = "fast", arch_kwargs: Optional[dict] = None,
                     content: Optional[List[str]] = None, features: str = "efficientnet-lite0",
                     style_layers: Optional[Dict[str, float]] = None,
                     content_layers: Optional[Dict[str, float]] = None, features_weights=None,
                     content_weight: Optional[float] = None, style_weight: Optional[float] = None,
                     tv_weight: Optional[float] = None, style_kind: str = "gram", size: int = 256,
                     style_size: int = 512, batch: int = 4, steps: Optional[int] = None,
                     minutes: Optional[float] = None, lr: float = 1e-3, seed: int = 0,
                     workdir: Optional[Path] = None, resume: bool = False, out_dir: Optional[Path] = None,
                     sample_every: int = 200, checkpoint_every: int = 100, threads: Optional[int] = None,
                     device: Optional[str] = None, progress: bool = True, stop_at: Optional[int] = None) -> dict:
    """Train `arch` to paint like `style_image`; export to ONNX in the user zoo (or out_dir).

    stop_at: stop after that step with the checkpoint saved and nothing exported (an interruption).
    """
    import torch
    from tqdm import tqdm
    from ..imageio import load_image
    from ..nets import build
    from .features import get_features
    from .losses import PerceptualLoss

    budget = Budget(steps, minutes)
    if size < 32 or batch < 1:
        raise UserError("--size must be >= 32 and --batch >= 1")
    if style_kind not in ("gram", "meanstd"):
        raise UserError("--style-loss is gram or meanstd")
    if threads:
        torch.set_num_threads(threads)
    dev = pick_device(device)
    cw = DEFAULT_WEIGHTS["content"] if content_weight is None else content_weight
    sw = DEFAULT_WEIGHTS["style"] if style_weight is None else style_weight
    tw = DEFAULT_WEIGHTS["tv"] if tv_weight is None else tv_weight
    seed_all(seed)
    workdir, ckpt = prepare_workdir(workdir, name, resume)

    style_arr = resize_long(load_image(style_image), style_size)
    sources = content or default_sources()
    imgs, names = usable_content(*load_content(sources), size)
    sample_src = held_out_images()[:1]
    sample = resize_long(load_image(sample_src[0]), 512) if sample_src else imgs[0]

    layers = list(dict.fromkeys(list(style_layers or []) + list(content_layers or []))) or None
    feats = get_features(features, layers, features_weights).to(dev)
    ploss = PerceptualLoss(feats, to_tensor(style_arr)[None].to(dev), cw, sw, tw, style_kind,
                           style_layers, content_layers)
    net = build(arch, **(arch_kwargs or {})).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    step, elapsed = 0, 0.0
    if resume:
        st = resume_net(ckpt, net, opt, arch, arch_kwargs)
        step, elapsed = st["step"], st["elapsed"]
    fields = ["step", "elapsed_s", "lr", "total", "content", "style", "tv"]
    log = CsvLog(workdir / "log.csv", fields)
    net.train()
    bar = tqdm(desc=f"train {name}", total=budget.steps or None, initial=step, disable=not progress, unit="step")
    t0 = time.perf_counter() - elapsed
    avg: Dict[str, float] = {}

    def state():
        return {"model": net.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                "arch": arch, "arch_kwargs": arch_kwargs or {}, "losses": dict(avg)}

    with checkpointed(ckpt, state, bar):
        while not budget.done(step, elapsed) and (stop_at is None or step < stop_at):
            rng = np.random.default_rng([seed, step])
            x = sample_batch(imgs, batch, size, rng).to(dev)
            cur_lr = cosine_lr(lr, budget.frac(step, elapsed))
            set_lr(opt, cur_lr)
            terms = ploss(net(x), x)
            kept = f"; the last good checkpoint is {ckpt}" if ckpt.exists() else ""
            optimise(opt, terms["total"], step, f"lower --lr or --style-weight{kept}")
            step += 1
            elapsed = time.perf_counter() - t0
            avg = running_average(avg, terms, 0.8)
            log_step(bar, log, avg, step, elapsed, cur_lr)
            if sample_every and step % sample_every == 0:
                write_sample(net, sample, workdir / "samples" / f"step_{step:06d}.jpg", net_multiple(net))
            if step % checkpoint_every == 0:
                save_checkpoint(ckpt, **state())
    result = {"name": name, "steps": step, "minutes": round(elapsed / 60, 2), "workdir": str(workdir),
              "losses": {k: round(v, 6) for k, v in avg.items()}}
    if stop_at is not None and step >= stop_at and not budget.done(step, elapsed):
        return result
    write_sample(net, sample, workdir / "samples" / "final.jpg", net_multiple(net))
    card = {
        "kind": "fixed", "teacher": None, "arch": arch, "arch_kwargs": arch_kwargs or {},
        "description": f"{arch} trained from the painting {Path(str(style_image)).name} (perceptual loss)",
        "style_image": {"file": Path(str(style_image)).name, "sha256": _sha(style_image)},
        "training": {"command": command_line(), "method": "perceptual (Johnson et al. 2016)",
                     "features": features, "style_loss": style_kind,
                     "style_layers": ploss.style_layers, "content_layers": ploss.content_layers,
                     "weights": {"content": cw, "style": sw, "tv": tw}, "size": size, "style_size": style_size,
                     "batch": batch, "lr": lr, "seed": seed, "steps": step, "minutes": round(elapsed / 60, 1),
                     "final_losses": result["losses"],
                     "data": {"sources": [str(s) for s in sources], "images": len(names),
                              "names_sha256": hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]}},
    }
    net = net.cpu()
    path = finish_model(net, name, card, out_dir, multiple=net_multiple(net))
    result["path"] = str(path)
    return result


def _sha(path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except (OSError, TypeError):
        return ""
