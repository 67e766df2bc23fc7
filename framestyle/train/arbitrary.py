"""Arbitrary-style student: a conditional net (image, Magenta style vector) distilled from Magenta.

The style set (offline, cached; held-out styles never trained on) is `style_set.py`. A background thread keeps
a pool of (content crop, style vector, Magenta output) triples fresh (also saved as shards under the run folder),
the student trains on random batches from the pool.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from ..imageio import atomic_file, atomic_write_bytes
from ..zoo.card import ModelCard, save_card
from .data import default_sources, held_out_images, load_content, resize_long
from .loop import (Budget, CsvLog, check_teacher, command_line, cosine_lr, load_checkpoint, net_multiple, optimise,
                   param_groups, prepare_workdir, running_average, save_checkpoint, seed_all, set_lr,
                   start_from_teacher)
from .style_set import HELD_MS26, STYLE_SIDE, build_style_set, held_out_styles, style_bank  # noqa: F401


# -- the teacher pool -----------------------------------------------------------------------

class TeacherPool:
    """Ring buffer of (content crop, style vector, Magenta output) triples filled by a background thread."""

    def __init__(self, teacher, contents, vectors, size: int, crop: int, folder: Path, seed: int,
                 blend_p: float = 0.3, shard: int = 32, share: float = 1.0):
        self.teacher, self.contents, self.vectors = teacher, contents, vectors
        self.size, self.crop, self.folder, self.shard = size, crop, folder, shard
        self.x = np.zeros((size, crop, crop, 3), np.uint8)
        self.y = np.zeros((size, crop, crop, 3), np.uint8)
        self.v = np.zeros((size, 100), np.float32)
        self.count = self.made = 0
        self.blend_p, self.share = blend_p, share  # share: once full, label that fraction of the time
        self.rng = np.random.default_rng([seed, 7])
        self.stop = threading.Event()
        self.lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        self._load_shards()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _add(self, x, y, v):
        with self.lock:
            for i in range(len(x)):
                j = self.count % self.size
                self.x[j], self.y[j], self.v[j] = x[i], y[i], v[i]
                self.count += 1

    def _load_shards(self):
        for p in sorted(self.folder.glob("shard_*.npz"))[-(self.size // self.shard):]:
            try:
                z = np.load(p)
                if z["x"].shape[1] == self.crop:
                    self._add(z["x"], z["y"], z["v"])
            except (OSError, ValueError, KeyError):
                continue
        self.made = len(list(self.folder.glob("shard_*.npz")))

    def _one(self):
        import cv2
        img = self.contents[self.rng.integers(len(self.contents))]
        h, w = img.shape[:2]
        c = int(self.rng.uniform(min(self.crop, h, w), min(h, w) + 1))
        top, left = self.rng.integers(0, h - c + 1), self.rng.integers(0, w - c + 1)
        x = cv2.resize(np.ascontiguousarray(img[top:top + c, left:left + c]), (self.crop, self.crop),
                       interpolation=cv2.INTER_AREA)
        if self.rng.random() < 0.5:
            x = np.ascontiguousarray(x[:, ::-1])
        a, b = self.rng.integers(len(self.vectors), size=2)
        v = self.vectors[a]
        if self.rng.random() < self.blend_p:
            t = self.rng.uniform(0.2, 0.8)
            v = t * v + (1 - t) * self.vectors[b]
        return x, v.astype(np.float32)

    def _run(self):
        xs, ys, vs = [], [], []
        while not self.stop.is_set():
            t0 = time.perf_counter()
            batch = [self._one() for _ in range(4)]
            x = np.stack([b[0] for b in batch])
            v = np.stack([b[1] for b in batch])
            y = self.teacher.transform_batch(x.transpose(0, 3, 1, 2).astype(np.float32) / 255, v)
            y = (np.clip(y.transpose(0, 2, 3, 1), 0, 1) * 255 + 0.5).astype(np.uint8)
            self._add(x, y, v)
            xs.append(x), ys.append(y), vs.append(v)
            if sum(len(a) for a in xs) >= self.shard:
                with atomic_file(self.folder / f"shard_{self.made:05d}.npz") as f:
                    np.savez(f, x=np.concatenate(xs), y=np.concatenate(ys), v=np.concatenate(vs))
                self.made += 1
                xs, ys, vs = [], [], []
            if self.share < 1 and self.count >= self.size:
                self.stop.wait((time.perf_counter() - t0) * (1 / self.share - 1))

    def sample(self, n: int, rng, crop: Optional[int] = None):
        """A batch (x, y, v); `crop` < pool crop takes random sub-crops (cheaper steps)."""
        import torch
        c = min(crop or self.crop, self.crop)
        with self.lock:
            k = min(self.count, self.size)
            idx = rng.integers(k, size=n)
            top, left = rng.integers(0, (self.crop - c) // 8 + 1, size=2) * 8  # on the teacher's stride grid
            sl = (idx, slice(top, top + c), slice(left, left + c))
            x, y, v = self.x[sl].copy(), self.y[sl].copy(), self.v[idx].copy()
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
        ty = torch.from_numpy(y).permute(0, 3, 1, 2).float() / 255
        return tx, ty, torch.from_numpy(v)


# -- evaluation and export ------------------------------------------------------------------

def eval_set(teacher, styles, size: int = 256):
    """[(content uint8, vector, teacher uint8)] for held-out photos x the given styles."""
    from ..imageio import load_image
    out = []
    for p in held_out_images():
        x = resize_long(load_image(p), size)
        x = x[: x.shape[0] // 4 * 4, : x.shape[1] // 4 * 4]
        for _, s in styles:
            v = teacher.style_vector(s)
            y = (np.clip(teacher.transform(x, v), 0, 1) * 255 + 0.5).astype(np.uint8)
            out.append((x, v, y))
    return out


def torch_psnr(net, evalset) -> float:
    import torch
    net.eval()
    vals = []
    with torch.no_grad():
        for x, v, y in evalset:
            t = torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255
            o = net(t, torch.from_numpy(v)[None])[0].permute(1, 2, 0).numpy()
            mse = float(np.mean((o - y.astype(np.float32) / 255) ** 2))
            vals.append(10 * np.log10(1 / max(mse, 1e-10)))
    net.train()
    return float(np.mean(vals))


def export_student(net, path: Path) -> dict:
    """Two-input ONNX: input [1,3,H,W] 0..1 and style [1,100]; output [1,3,H,W]; dynamic H,W."""
    import io
    import warnings
    import onnxruntime as ort
    import torch
    net = net.cpu().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.rand(1, 3, 256, 256), torch.randn(1, 100)), buf,
                          input_names=["input", "style"], output_names=["output"], opset_version=18,
                          dynamic_axes={"input": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}},
                          dynamo=False, do_constant_folding=True)
    atomic_write_bytes(path, buf.getvalue())
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for h, w in ((64, 96), (200, 328)):
        x, s = torch.rand(1, 3, h, w), torch.randn(1, 100)
        with torch.no_grad():
            ref = net(x, s).numpy()
        got = sess.run(None, {"input": x.numpy(), "style": s.numpy()})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    if worst > 1e-4:
        raise UserError(f"exported ONNX differs from PyTorch by {worst:.2e}")
    return {"onnx_vs_torch_max_abs": worst}


def student_fidelity(model_path: Path, teacher, styles, size: int = 512, ref: Optional[Path] = None) -> dict:
    """PSNR/SSIM of the ONNX student (runtime backend) vs Magenta on held-out photos x styles at `size`; with
    `ref` (e.g. the float student of an int8 copy) also the mean PSNR/SSIM vs that student."""
    from ..imageio import load_image
    from ..metrics.fidelity import psnr, ssim
    from ..runtime.arbitrary import StudentBackend
    be = StudentBackend(model_path, teacher=teacher)
    other = StudentBackend(ref, teacher=teacher) if ref is not None else None
    rows, vs_ref = [], []
    for p in held_out_images():
        x = resize_long(load_image(p), size)
        for name, s in styles:
            v = be.style_vector(s)
            o = be.transform(x, v)
            t = (np.clip(teacher.transform(x, v), 0, 1) * 255 + 0.5).astype(np.uint8)
            rows.append({"image": p.name, "style": name, "psnr": round(psnr(o, t), 2), "ssim": round(ssim(o, t), 4)})
            if other is not None:
                y = other.transform(x, v)
                vs_ref.append((psnr(o, y), ssim(o, y)))
    out = {"psnr": round(float(np.mean([r["psnr"] for r in rows])), 2),
           "ssim": round(float(np.mean([r["ssim"] for r in rows])), 4), "size": size,
           "styles": [n for n, _ in styles], "pairs": len(rows), "per_image": rows}
    if vs_ref:
        m = np.mean(vs_ref, axis=0)
        out.update(psnr_vs_source=round(float(m[0]), 2), ssim_vs_source=round(float(m[1]), 4))
    return out


# -- the loop -------------------------------------------------------------------------------

def grad_loss(a, b):
    """MSE between the image gradients of a and b (keeps edges and texture sharp)."""
    dxa, dxb = a[..., :, 1:] - a[..., :, :-1], b[..., :, 1:] - b[..., :, :-1]
    dya, dyb = a[..., 1:, :] - a[..., :-1, :], b[..., 1:, :] - b[..., :-1, :]
    return ((dxa - dxb) ** 2).mean() + ((dya - dyb) ** 2).mean()


def train_arbitrary(name: str = "my-arbitrary", arch: str = "cond-fast", arch_kwargs: Optional[dict] = None,
                    steps: Optional[int] = None, minutes: Optional[float] = None, batch: int = 8,
                    crop: int = 160, lr: float = 2e-3, seed: int = 0, workdir: Optional[Path] = None,
                    resume: bool = False, out_dir: Optional[Path] = None, pool_size: int = 3000,
                    eval_every: int = 200, threads: Optional[int] = 1, progress: bool = True,
                    grad_weight: float = 0.5, min_pool: int = 64, train_crop: Optional[int] = None,
                    init=None, label_share: float = 0.25) -> dict:
    import torch
    from tqdm import tqdm
    from ..nets import build
    from ..zoo.magenta import MagentaTeacher

    if not 0 < label_share <= 1:
        raise UserError(f"label_share must be in (0, 1], got {label_share}")
    budget = Budget(steps, minutes)
    if threads:
        torch.set_num_threads(threads)
    seed_all(seed)
    teacher = MagentaTeacher(threads=threads)
    net = build(arch, **(arch_kwargs or {}))
    check_teacher(net, teacher)  # e.g. the fixed-style mg: refused before the style bank and the pool
    if init is not None:
        init = _init_file(net, init)
    workdir, ckpt = prepare_workdir(workdir, name, resume)  # after every refusal above: nothing left behind
    names, images, vectors = style_bank(workdir.parent / "style_cache", teacher, seed, progress)
    contents, content_names = load_content(default_sources())
    held = held_out_styles()
    evalset = eval_set(teacher, held)
    seen = eval_set(teacher, [(n, im) for n, im in zip(names[::80], images[::80])])
    pool = TeacherPool(MagentaTeacher(threads=threads), contents, vectors, pool_size, crop, workdir / "pool", seed,
                        share=label_share)
    pool.thread.start()

    start = {} if resume else start_from_teacher(net, teacher, contents[::2], lambda n: torch_psnr(n, evalset),
                                                  progress, **({"init": init} if init is not None else {}))
    opt = torch.optim.Adam(param_groups(net, lr), lr=lr)
    step, elapsed, history = 0, 0.0, []
    rng = np.random.default_rng(seed)
    if resume:
        st = load_checkpoint(ckpt)
        net.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed, history = st["step"], st["elapsed"], st.get("history", [])
        rng = np.random.default_rng([seed, step])
    while pool.count < min_pool:
        time.sleep(1.0)
    log = CsvLog(workdir / "log.csv", ["step", "elapsed_s", "loss", "lr", "pool", "heldout_psnr", "seen_psnr"])
    bar = tqdm(desc=f"arbitrary {name}", total=budget.steps or None, initial=step, disable=not progress)
    t0, loss_avg = time.perf_counter() - elapsed, None
    net.train()
    while not budget.done(step, elapsed):
        x, y, v = pool.sample(batch, rng, train_crop if budget.frac(step, elapsed) < 0.8 else None)
        cur_lr = cosine_lr(lr, budget.frac(step, elapsed))
        set_lr(opt, cur_lr)
        out = net(x, v)
        loss = torch.nn.functional.mse_loss(out, y) + grad_weight * grad_loss(out, y)
        optimise(opt, loss, step, f"lower --lr (checkpoint {ckpt} kept)")
        step += 1
        elapsed = time.perf_counter() - t0
        loss_avg = running_average(loss_avg, loss, 0.98)
        bar.update(1)
        if step % eval_every == 0 or budget.done(step, elapsed):
            ph, ps = torch_psnr(net, evalset), torch_psnr(net, seen)
            history.append([step, round(elapsed, 1), round(ph, 3), round(ps, 3), pool.count])
            bar.set_postfix(loss=f"{loss_avg:.4f}", heldout=f"{ph:.2f}", seen=f"{ps:.2f}", pool=pool.count)
            log.write(step=step, elapsed_s=round(elapsed, 1), loss=round(loss_avg, 6), lr=f"{cur_lr:.2e}",
                      pool=pool.count, heldout_psnr=round(ph, 3), seen_psnr=round(ps, 3))
            save_checkpoint(ckpt, model=net.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                            history=history, arch=arch, arch_kwargs=arch_kwargs or {})
    bar.close()
    pool.stop.set()
    save_checkpoint(ckpt, model=net.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                    history=history, arch=arch, arch_kwargs=arch_kwargs or {})
    card = {"kind": "arbitrary", "method": "student", "style_input": "style", "teacher": "magenta",
            # a cond-mg with a phase stem: each style runs as its own fixed int8 graph, the up-path's norms folded
            # at that style's statistics (runtime/specialise.py builds that graph for phase stems only)
            **({"specialise": True} if arch == "cond-mg" and net.stem_kind in ("phase", "phase3") else {}),
            "arch": arch, "arch_kwargs": arch_kwargs or {},
            "description": f"{arch} arbitrary-style student distilled from Magenta; style = Magenta style vector",
            "licence": "Apache-2.0 (trained here from Apache-2.0 teacher weights)",
            "training": {"command": command_line(), "method": "distillation (pixel MSE + gradient MSE)",
                         "steps": step, "minutes": round(elapsed / 60, 1), "batch": batch, "crop": crop, "lr": lr,
                         "seed": seed, "train_crop": train_crop, "teacher_triples_made": pool.made * pool.shard,
                         "label_share": label_share,
                         "styles": {"train": len(names), "held_out": [n for n, _ in held]},
                         "content": {"images": len(content_names), "held_out": [p.name for p in held_out_images()]},
                         "eval_history": history, **({"start": start} if start else {})}}
    path = export_model(net, name, card, out_dir)
    fid = student_fidelity(path, teacher, held)
    card = ModelCard.load(path.with_suffix(".json"))
    card.fidelity = fid
    card.save(path)
    return {"name": name, "path": str(path), "steps": step, "minutes": round(elapsed / 60, 2), "fidelity": fid}


def _init_file(net, init) -> Path:
    """The cond-mg export `--init` names (a zoo name or .onnx path), checked before any work: this net must be
    its shape or a cut of it (the same blocks, an up-path no wider, its stem as it is or moved to a cheaper form:
    teacher -> phase -> phase3)."""
    from ..nets.mgnet import MG
    from ..zoo import get_model
    if not getattr(net, "cond", False) or not isinstance(net, MG):
        raise UserError("--init continues a trained cond-mg export as a cond-mg student (--arch cond-mg)")
    path = get_model(str(init)).path
    try:
        twin = MG.from_export(path)
    except (ValueError, OSError) as exc:
        raise UserError(f"--init {init}: {exc}") from None
    order = ("teacher", "phase", "phase3")
    stem_ok = (net.stem_kind == twin.stem_kind or (twin.stem_kind in order and net.stem_kind in order
                                                   and order.index(net.stem_kind) > order.index(twin.stem_kind)))
    if (not stem_ok or len(net.res) != len(twin.res) or net.args["head_res"] != twin.args["head_res"]
            or any(a > b for a, b in zip(net.up, twin.up))):
        up = ",".join(map(str, twin.up))
        raise UserError(f"--init {init}: it is cond-mg stem={twin.stem_kind} blocks={len(twin.res)} up={up}; this "
                        f"net must be that shape or a cut of it (--arch-arg stem=... up=... no wider, the same "
                        f"blocks), e.g. --arch-arg stem={twin.stem_kind} --arch-arg up={up}")
    return path


def export_model(net, name: str, card: dict, out_dir: Optional[Path] = None) -> Path:
    """Export the student and its card to out_dir (default: the user zoo)."""
    from ..outputs import model_output
    path = model_output(name, out_dir, force=True)  # a plain name inside out_dir (the CLI refused clashes)
    stats = export_student(net, path)
    card = dict(card)
    card.update(name=name, export=stats, created=time.strftime("%Y-%m-%d %H:%M:%S"),
                params=int(sum(p.numel() for p in net.parameters())))
    card["input"] = {"name": "input", "layout": "NCHW", "range": "0..1 RGB float32",
                     "multiple": net_multiple(net), "extra": "style[1,100] Magenta style vector"}
    save_card(path, card)
    return path
