"""Paired image-to-image training: inputs/ and targets/ with matching file names.

The same random crop/scale/flip is applied to both images of a pair; the train/validation split is a
hash of (seed, file stem), so it is the same across runs and file orderings; the loss is pixel L1 plus
a perceptual (feature MSE) term; validation PSNR/SSIM are logged each epoch to val.csv.
"""
from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from ..imageio import IMAGE_EXTS, load_image, save_image
from .loop import (Budget, CsvLog, checkpointed, command_line, cosine_lr, finish_model, log_step, net_multiple,
                   optimise, prepare_workdir, resume_net, running_average, save_checkpoint, seed_all,
                   set_lr)

Pair = Tuple[str, np.ndarray, np.ndarray]


# -- shared helpers (also used by train.perceptual) --------------------------------------------

def geometric(arrs: Sequence[np.ndarray], size: int, rng: np.random.Generator,
              scale: Tuple[float, float] = (0.6, 1.0), flip: bool = True) -> List[np.ndarray]:
    """One random square crop (side size/scale, clipped to the image), resize to size, h-flip: same for all."""
    import cv2
    h, w = arrs[0].shape[:2]
    s = rng.uniform(*scale)
    c = int(min(h, w, round(size / s)))
    top, left = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
    do_flip = flip and rng.random() < 0.5
    out = []
    for a in arrs:
        a = a[top:top + c, left:left + c]
        if c != size:
            a = cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA if c > size else cv2.INTER_LINEAR)
        out.append(np.ascontiguousarray(a[:, ::-1] if do_flip else a))
    return out


def to_tensor(img: np.ndarray):
    import torch
    return torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)


def run_net(net, img: np.ndarray, multiple: int = 8) -> np.ndarray:
    """Stylise one uint8 image with a torch net (reflect-pad to the multiple, crop back) -> uint8."""
    import torch
    import torch.nn.functional as F
    dev = next(net.parameters()).device
    was = net.training
    net.eval()
    h, w = img.shape[:2]
    with torch.no_grad():
        t = F.pad(to_tensor(img)[None].to(dev), (0, (-w) % multiple, 0, (-h) % multiple), mode="reflect")
        o = net(t)[0, :, :h, :w].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    net.train(was)
    return (o * 255 + 0.5).astype(np.uint8)


def write_sample(net, img: np.ndarray, path: Path, multiple: int, extra: Sequence[np.ndarray] = ()) -> None:
    """input | output (| extra...) side by side, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(np.concatenate([img, run_net(net, img, multiple), *extra], axis=1), path)


# -- pairs and split --------------------------------------------------------------------------

def _by_stem(folder: Path, what: str) -> Dict[str, Path]:
    if not folder.is_dir():
        raise UserError(f"{folder}: {what} folder not found")
    out: Dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS:
            if p.stem in out:
                raise UserError(f"{folder}: two {what} files share the name {p.stem!r} ({out[p.stem].name}, {p.name})")
            out[p.stem] = p
    if not out:
        raise UserError(f"{folder}: no images in the {what} folder")
    return out


def find_pairs(inputs: Path, targets: Path) -> List[Tuple[str, Path, Path]]:
    """(stem, input, target) for matching stems (any image extension); UserError on unpaired files."""
    a, b = _by_stem(Path(inputs), "inputs"), _by_stem(Path(targets), "targets")
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        msg = []
        if only_a:
            msg.append(f"{len(only_a)} input(s) without a target: {', '.join(a[s].name for s in only_a[:5])}")
        if only_b:
            msg.append(f"{len(only_b)} target(s) without an input: {', '.join(b[s].name for s in only_b[:5])}")
        raise UserError("unpaired files (names must match, extensions may differ): " + "; ".join(msg))
    return [(s, a[s], b[s]) for s in sorted(a)]


def split_hash(stem: str, seed: int) -> float:
    """A number in [0,1) from (seed, file stem): the split does not depend on listing order or RNG state."""
    return int(hashlib.sha256(f"{seed}:{stem}".encode()).hexdigest()[:12], 16) / 16 ** 12


def split_names(stems: Sequence[str], val_fraction: float, seed: int = 0) -> Tuple[List[str], List[str]]:
    """(train, val) stems: val = hash < val_fraction (at least one when val_fraction > 0 and >= 2 pairs)."""
    if not 0 <= val_fraction < 1:
        raise UserError("--val-fraction must be in [0, 1)")
    h = {s: split_hash(s, seed) for s in stems}
    val = sorted(s for s in stems if h[s] < val_fraction)
    if not val and val_fraction > 0 and len(stems) >= 2:
        val = [min(stems, key=lambda s: h[s])]
    vs = set(val)
    return sorted(s for s in stems if s not in vs), val


def load_pairs(items, size: int, max_side: int = 1024) -> List[Pair]:
    import cv2
    from .data import resize_long
    out, small = [], []
    for stem, pa, pb in items:
        x, y = load_image(pa), load_image(pb)
        if y.shape[:2] != x.shape[:2]:  # e.g. a target saved at another resolution
            y = cv2.resize(y, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_AREA)
        if max(x.shape[:2]) > max_side:
            x, y = resize_long(x, max_side), resize_long(y, max_side)
        if min(x.shape[:2]) < size:
            small.append(f"{pa.name} ({x.shape[1]}x{x.shape[0]})")
        out.append((stem, x, y))
    if small:
        raise UserError(f"{len(small)} pair(s) smaller than the crop size {size} px: {', '.join(small[:5])}; "
                        f"lower --size")
    return out


# -- training ------------------------------------------------------------------------------

def validate(net, pairs: List[Pair], multiple: int, max_side: int = 512) -> Tuple[float, float]:
    from ..metrics.fidelity import psnr, ssim
    from .data import resize_long
    ps, ss = [], []
    for _, x, y in pairs:
        if max(x.shape[:2]) > max_side:
            x, y = resize_long(x, max_side), resize_long(y, max_side)
        o = run_net(net, x, multiple)
        ps.append(psnr(o, y))
        ss.append(ssim(o, y))
    return float(np.mean(ps)), float(np.mean(ss))


def train_paired(inputs, targets, name: str, arch: str = "unet-small", arch_kwargs: Optional[dict] = None,
                 val_fraction: float = 0.1, size: int = 256, batch: int = 4, epochs: Optional[int] = None,
                 steps: Optional[int] = None, minutes: Optional[float] = None, lr: float = 1e-3,
                 features: Optional[str] = "efficientnet-lite0", perceptual_weight: float = 0.002,
                 features_weights=None, seed: int = 0, workdir: Optional[Path] = None, resume: bool = False,
                 out_dir: Optional[Path] = None, sample_every: int = 200, checkpoint_every: int = 100,
                 threads: Optional[int] = None, device: Optional[str] = None, progress: bool = True,
                 stop_at: Optional[int] = None) -> dict:
    """Train `arch` to map inputs/X to targets/X; export to ONNX in the user zoo (or out_dir)."""
    import torch
    from tqdm import tqdm
    from ..nets import build
    from .losses import PerceptualLoss, pixel_loss
    from .perceptual import pick_device

    if sum(v is not None for v in (epochs, steps, minutes)) != 1:
        raise UserError("give exactly one of --epochs N, --steps N, --minutes M")
    if size < 32 or batch < 1:
        raise UserError("--size must be >= 32 and --batch >= 1")
    items = find_pairs(inputs, targets)
    train_stems, val_stems = split_names([s for s, _, _ in items], val_fraction, seed)
    pairs = load_pairs(items, size)
    train = [p for p in pairs if p[0] in set(train_stems)]
    val = [p for p in pairs if p[0] in set(val_stems)]
    per_epoch = max(1, math.ceil(len(train) / batch))
    if epochs is not None:
        if epochs <= 0:
            raise UserError("--epochs must be positive")
        steps = epochs * per_epoch
    budget = Budget(steps, minutes)
    if threads:
        torch.set_num_threads(threads)
    dev = pick_device(device)
    seed_all(seed)
    workdir, ckpt = prepare_workdir(workdir, name, resume)

    net = build(arch, **(arch_kwargs or {})).to(dev)
    mult = net_multiple(net)
    ploss = None
    if features and features != "none" and perceptual_weight > 0:
        from .features import get_features
        ploss = PerceptualLoss(get_features(features, None, features_weights).to(dev), content_weight=1.0)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    step, elapsed, history = 0, 0.0, []
    if resume:
        st = resume_net(ckpt, net, opt, arch, arch_kwargs)
        step, elapsed, history = st["step"], st["elapsed"], st.get("history", [])
    log = CsvLog(workdir / "log.csv", ["step", "elapsed_s", "lr", "total", "l1", "perceptual"])
    vlog = CsvLog(workdir / "val.csv", ["epoch", "step", "elapsed_s", "train_loss", "val_psnr", "val_ssim"])
    sample = (val or train)[0]
    net.train()
    bar = tqdm(desc=f"train-paired {name}", total=budget.steps or None, initial=step, disable=not progress,
               unit="step")
    t0 = time.perf_counter() - elapsed
    avg: Dict[str, float] = {}

    def state():
        return {"model": net.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                "arch": arch, "arch_kwargs": arch_kwargs or {}, "history": history, "losses": dict(avg)}

    with checkpointed(ckpt, state, bar):
        while not budget.done(step, elapsed) and (stop_at is None or step < stop_at):
            rng = np.random.default_rng([seed, step])
            xs, ys = zip(*(geometric(train[rng.integers(len(train))][1:], size, rng) for _ in range(batch)))
            x = torch.stack([to_tensor(a) for a in xs]).to(dev)
            y = torch.stack([to_tensor(b) for b in ys]).to(dev)
            cur_lr = cosine_lr(lr, budget.frac(step, elapsed))
            set_lr(opt, cur_lr)
            out = net(x)
            terms = {"l1": pixel_loss(out, y, "l1")}
            total = terms["l1"]
            if ploss is not None:
                terms["perceptual"] = ploss(out, y)["content"]
                total = total + perceptual_weight * terms["perceptual"]
            terms["total"] = total
            kept = f"; the last good checkpoint is {ckpt}" if ckpt.exists() else ""
            optimise(opt, total, step, f"lower --lr{kept}")
            step += 1
            elapsed = time.perf_counter() - t0
            avg = running_average(avg, terms, 0.9)
            log_step(bar, log, avg, step, elapsed, cur_lr)
            if step % per_epoch == 0 and val:
                p, s = validate(net, val, mult)
                history.append({"epoch": step // per_epoch, "step": step, "val_psnr": round(p, 3),
                                "val_ssim": round(s, 4)})
                vlog.write(epoch=step // per_epoch, step=step, elapsed_s=round(elapsed, 1),
                           train_loss=f"{avg['total']:.5g}", val_psnr=round(p, 3), val_ssim=round(s, 4))
            if sample_every and step % sample_every == 0:
                write_sample(net, sample[1], workdir / "samples" / f"step_{step:06d}.jpg", mult, [sample[2]])
            if step % checkpoint_every == 0:
                save_checkpoint(ckpt, **state())
    result = {"name": name, "steps": step, "minutes": round(elapsed / 60, 2), "workdir": str(workdir),
              "train_pairs": len(train), "val_pairs": len(val), "losses": {k: round(v, 6) for k, v in avg.items()},
              "val_history": history}
    if stop_at is not None and step >= stop_at and not budget.done(step, elapsed):
        return result
    if val:
        p, s = validate(net, val, mult)
        result["val"] = {"psnr": round(p, 3), "ssim": round(s, 4)}
    write_sample(net, sample[1], workdir / "samples" / "final.jpg", mult, [sample[2]])
    names = "\n".join(s for s, _, _ in items)
    card = {
        "kind": "fixed", "teacher": None, "arch": arch, "arch_kwargs": arch_kwargs or {},
        "description": f"{arch} trained on {len(items)} image pairs from {Path(inputs).name} -> {Path(targets).name}",
        "training": {"command": command_line(), "method": "paired (pixel L1 + perceptual)",
                     "features": features if ploss is not None else None, "perceptual_weight": perceptual_weight,
                     "size": size, "batch": batch, "lr": lr, "seed": seed, "steps": step,
                     "minutes": round(elapsed / 60, 1), "final_losses": result["losses"],
                     "validation": result.get("val"), "val_history": history,
                     "data": {"inputs": str(inputs), "targets": str(targets), "pairs": len(items),
                              "train": len(train), "val": val_stems, "val_fraction": val_fraction,
                              "names_sha256": hashlib.sha256(names.encode()).hexdigest()[:12]}},
    }
    path = finish_model(net.cpu(), name, card, out_dir, multiple=mult)
    result["path"] = str(path)
    return result
