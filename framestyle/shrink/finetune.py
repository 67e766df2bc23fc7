"""Short distillation fine-tune of a shrunk student from the ORIGINAL student's outputs (pixel MSE)."""
from __future__ import annotations

import time
from typing import List, Optional

import numpy as np

from ..errors import UserError


def content_subset(limit: int = 40, max_side: int = 384) -> List[np.ndarray]:
    """Still photos from the default offline training set (no video frames, no held-out photos)."""
    from ..train.data import VIDEO_EXTS, default_sources, load_content
    srcs = [s for s in default_sources() if not any(s.lower().endswith(e) for e in VIDEO_EXTS)]
    imgs, _ = load_content(srcs[:limit], max_side=max_side)
    return imgs


def random_batch(imgs: List[np.ndarray], batch: int, crop: int, rng: np.random.Generator):
    import torch
    out = np.empty((batch, crop, crop, 3), np.uint8)
    for i in range(batch):
        img = imgs[rng.integers(len(imgs))]
        h, w = img.shape[:2]
        c = min(crop, h, w)
        y, x = rng.integers(0, h - c + 1), rng.integers(0, w - c + 1)
        patch = img[y:y + c, x:x + c]
        if c != crop:
            import cv2
            patch = cv2.resize(patch, (crop, crop), interpolation=cv2.INTER_CUBIC)
        out[i] = patch[:, ::-1] if rng.random() < 0.5 else patch
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


def finetune(student, teacher, steps: int, lr: float = 1e-3, batch: int = 8, crop: int = 160, seed: int = 0,
             imgs: Optional[List[np.ndarray]] = None, progress: bool = True, desc: str = "fine-tune") -> dict:
    """Train `student` to reproduce `teacher` (a frozen PyTorch net) on random crops; returns loss stats."""
    import torch
    from tqdm import tqdm
    from ..train.loop import cosine_lr
    if steps < 0:
        raise UserError("--steps must be >= 0")
    if steps == 0:
        return {"steps": 0}
    m = max(4, int(getattr(student, "factor", 4)))
    crop = max(m, crop - crop % m)
    imgs = imgs if imgs is not None else content_subset()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    teacher.eval()
    student.train()
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    t0, first, avg = time.perf_counter(), None, None
    for step in tqdm(range(steps), desc=desc, disable=not progress, unit="step"):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(lr, step / steps)
        x = random_batch(imgs, batch, crop, rng)
        with torch.no_grad():
            y = teacher(x)
        loss = torch.nn.functional.mse_loss(student(x), y)
        if not torch.isfinite(loss):
            raise UserError(f"fine-tune loss became non-finite at step {step}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        v = float(loss.detach())
        first = v if first is None else first
        avg = v if avg is None else 0.95 * avg + 0.05 * v
    student.eval()
    return {"steps": steps, "lr": lr, "batch": batch, "crop": crop, "first_loss": round(first, 6),
            "final_loss": round(avg, 6), "seconds": round(time.perf_counter() - t0, 1)}
