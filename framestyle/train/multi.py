"""Distil the real-time multi-style student (`nets.multi.MultiRT`) from multistyle26, all 26 styles at once.

Every sample gets its own style (one-hot mostly, some two-style blends) and its label is the teacher's output
on the whole frame with the same style weights. Labels come from a background process (ORT, one thread) that
writes chunks to WORKDIR/labels while the trainer fits the stem and then trains; the trainer keeps the newest
labels in memory and reuses them. Checkpoints every `eval_every` steps; `resume=True` continues a run (its
labels on disk are reused).

    framestyle distill-multi -o multi26 --minutes 50 --workdir runs/multi26
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np

from ..errors import UserError

S = 26
SHAPES = ((384, 512), (288, 384))  # whole frames (H, W): the teacher's norms see what the student sees
CHUNK = 24


def frame(img: np.ndarray, shape, flip: bool) -> np.ndarray:
    """The centre crop of `img` with the aspect of `shape`, resized to it (and mirrored)."""
    import cv2
    h, w = img.shape[:2]
    th, tw = shape
    if h * tw > w * th:
        ch, cw = w * th // tw, w
    else:
        ch, cw = h, h * tw // th
    t, l = (h - ch) // 2, (w - cw) // 2
    out = cv2.resize(img[t:t + ch, l:l + cw], (tw, th), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out[:, ::-1] if flip else out)


def sample_style(rng: np.random.Generator, blend: float = 0.25) -> np.ndarray:
    sw = np.zeros(S, np.float32)
    if rng.random() < blend:
        a, b = rng.choice(S, 2, replace=False)
        t = rng.uniform(0.2, 0.8)
        sw[a], sw[b] = t, 1 - t
    else:
        sw[rng.integers(S)] = 1
    return sw


def teacher_run(sess, x: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """multistyle26 on uint8 HxWx3 (H, W multiples of 4) -> uint8 HxWx3."""
    t = x.astype(np.float32).transpose(2, 0, 1)[None] / 255
    y = sess.run(None, {"image": t, "style_weights": sw})[0][0]
    return (np.clip(y.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)


FULL_POOL = 4000  # labels made at full speed before `label_share` applies


def labeller(workdir: str, sources, seed: int, parent: int, share: float = 1.0) -> None:
    """Background process: label random (frame, style) pairs until WORKDIR/STOP exists or the parent is gone;
    once FULL_POOL labels exist it works `share` of the time (sleeps the rest), leaving the cores to the trainer."""
    from ..runtime.session import make_session
    from ..zoo.teachers import peer_model_path
    from .data import load_content
    imgs, _ = load_content(sources)
    sess = make_session(peer_model_path("multistyle26.onnx"), 1)
    out = Path(workdir) / "labels"
    out.mkdir(parents=True, exist_ok=True)
    k = len(list(out.glob("*.npz")))
    rng = np.random.default_rng([seed, k, os.getpid()])
    running = lambda: not (Path(workdir) / "STOP").exists() and os.getppid() == parent  # noqa: E731
    while running():
        t0 = time.perf_counter()
        si = int(rng.random() < 0.35)  # 35% small frames
        rows = []
        for _ in range(CHUNK):
            i, flip, sw = int(rng.integers(len(imgs))), bool(rng.random() < 0.5), sample_style(rng)
            rows.append((i, flip, sw, teacher_run(sess, frame(imgs[i], SHAPES[si], flip), sw)))
        tmp = out / f".c{k:05d}.part.npz"
        np.savez(tmp, idx=np.array([r[0] for r in rows]), flip=np.array([r[1] for r in rows]), shape=si,
                 sw=np.stack([r[2] for r in rows]), y=np.stack([r[3] for r in rows]))
        os.replace(tmp, out / f"c{k:05d}.npz")
        k += 1
        if share < 1 and k * CHUNK >= FULL_POOL:  # sleep in short naps, so STOP or the parent's end still stop it
            until = time.perf_counter() + (time.perf_counter() - t0) * (1 / share - 1)
            while time.perf_counter() < until and running():
                time.sleep(min(0.5, max(0.0, until - time.perf_counter())))


class Labels:
    """The newest `cap` labels from WORKDIR/labels, per frame shape."""

    def __init__(self, workdir: Path, cap: int = 5000):
        self.dir, self.cap, self.seen, self.items = workdir / "labels", cap, set(), {0: [], 1: []}

    def poll(self) -> int:
        new = sorted(p for p in self.dir.glob("c*.npz") if p.name not in self.seen)
        for p in new:
            try:
                z = np.load(p)
                rows = list(zip(z["idx"], z["flip"], z["sw"], z["y"]))
                si = int(z["shape"])
            except (OSError, ValueError, KeyError):
                continue
            self.seen.add(p.name)
            self.items[si].extend(rows)
        for si, lst in self.items.items():
            if len(lst) > self.cap // 2:
                del lst[: len(lst) - self.cap // 2]
        return sum(len(v) for v in self.items.values())

    def batch(self, frames, rng, n: int, small: bool):
        import torch
        si = 1 if small or not self.items[0] else (0 if not self.items[1] or rng.random() < 0.65 else 1)
        lst = self.items[si]
        pick = [lst[j] for j in rng.integers(len(lst), size=n)]
        x = np.stack([frames[si][int(i)][:, ::-1] if f else frames[si][int(i)] for i, f, _, _ in pick])
        y = np.stack([r[3] for r in pick])
        sw = np.stack([r[2] for r in pick])
        return (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255,
                torch.from_numpy(y).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(sw))


class HeldOut:
    """Held-out photos at 512 px with the teacher's labels per style (computed on first use)."""

    def __init__(self, size: int = 512):
        from ..imageio import load_image
        from ..runtime.session import make_session
        from ..zoo.teachers import peer_model_path
        from .data import held_out_images, resize_long
        self.imgs = [resize_long(load_image(p), size) for p in held_out_images()]
        self.sess, self.cache = make_session(peer_model_path("multistyle26.onnx"), 1), {}

    def label(self, j: int, s: int) -> np.ndarray:
        if (j, s) not in self.cache:
            x = self.imgs[j]
            h, w = x.shape[:2]
            xp = np.pad(x, ((0, (-h) % 4), (0, (-w) % 4), (0, 0)), mode="reflect")
            sw = np.eye(S, dtype=np.float32)[s]
            self.cache[(j, s)] = teacher_run(self.sess, xp, sw)[:h, :w]
        return self.cache[(j, s)]

    def psnr(self, net, styles) -> dict:
        import torch
        import torch.nn.functional as F
        from ..metrics.fidelity import psnr
        net.eval()
        out = {}
        with torch.no_grad():
            for s in styles:
                sw = torch.eye(S)[s]
                vals = []
                for j, x in enumerate(self.imgs):
                    h, w = x.shape[:2]
                    t = torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255
                    t = F.pad(t, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
                    o = net(t, sw)[0, :, :h, :w].permute(1, 2, 0).numpy()
                    o = (np.clip(o, 0, 1) * 255 + 0.5).astype(np.uint8)  # as the runtime rounds
                    vals.append(psnr(o, self.label(j, s)))
                out[s] = float(np.mean(vals))
        net.train()
        return out


def start_net(arch: dict, init=None):
    """The student to train: MultiRT(**arch), or (`init`, a trained multi-rt model's name or file) that model's
    weights moved into it (`MultiRT.start_from`), its card's arch_kwargs the defaults of `arch`. UserError for a
    model it cannot start from, or a norm it would have to fold (live in the model, folded in `arch`)."""
    from ..nets.multi import MultiRT
    info = None
    if init is not None:
        from ..zoo import get_model
        info = get_model(str(init))
        if info.card.get("arch") != "multi-rt":
            raise UserError(f"--init {init}: distill-multi starts from a multi-rt student (e.g. multi26), not "
                            f"{info.card.get('arch') or 'this model'}")
        arch = {**dict(info.card.get("arch_kwargs") or {}), **arch}
    try:
        net = MultiRT(**arch)
    except (TypeError, ValueError) as exc:
        raise UserError(f"--arch-arg: {exc}") from None
    if info is None:
        return net, {}
    try:
        src = MultiRT.from_export(info.path, **dict(info.card.get("arch_kwargs") or {}))
    except (ValueError, OSError, KeyError) as exc:
        raise UserError(f"--init {init}: cannot start from it ({exc})") from None
    mine, theirs = [n for _, n in net.pairs()], [n for _, n in src.pairs()]
    if any(t.normalize and not m.normalize for m, t in zip(mine, theirs)):
        raise UserError(f"--init {init}: its arch_kwargs are {info.card.get('arch_kwargs') or {}}; --arch-arg may "
                        "make folded norms live (body=live, stem=live) but not fold live ones")
    if net.stem[0].out_channels < src.stem[0].out_channels:
        raise UserError(f"--init {init}: its stem is {src.stem[0].out_channels} channels wide; --arch-arg stemw may "
                        "widen it, not narrow it")
    photos = None
    if any(m.normalize and not t.normalize for m, t in zip(net.stem_norm, src.stem_norm)):
        from .data import default_sources, load_content
        photos = load_content(default_sources())[0][::6]  # for the unfolded stem norms' starting statistics
    return net, {"init": info.name, **net.start_from(src, photos)}


def train(name: str, workdir: Path, minutes: float, lr: float = 5e-4, batch: int = 4, stem_fit: int = 600,
          eval_every: int = 250, threads: int = 2, resume: bool = False, seed: int = 0, arch=None,
          init=None, label_share: float = 0.25) -> dict:
    import torch
    from ..nets.multi import MultiRT, teacher_stem
    from ..nets.teacher_shaped import fit_stem
    from .data import default_sources, load_content
    from .loop import cosine_lr, load_checkpoint, save_checkpoint, set_lr
    from .losses import distill_loss

    if not 0 < label_share <= 1:
        raise UserError(f"label_share must be in (0, 1], got {label_share}")
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    arch, ckpt = dict(arch or {}), workdir / "checkpoint.pt"
    st = load_checkpoint(ckpt) if resume and ckpt.exists() else None
    if st is not None:  # a resumed run keeps the shape it began with (an --init model's arch_kwargs included)
        began = dict(st.get("arch") or {})
        try:  # compared as MultiRT reads them: its defaults filled in, text --arch-args as numbers
            same = MultiRT(**{**began, **arch}).args == MultiRT(**began).args
        except (TypeError, ValueError) as exc:
            raise UserError(f"--arch-arg: {exc}") from None
        if not same:
            raise UserError(f"--resume: {ckpt} was trained with --arch-arg {began}; drop or match --arch-arg")
        arch = {**began, **arch}
    # before the work dir and the labeller: a bad --init / --arch-arg leaves nothing behind
    net, begin = start_net({**arch, "stem_fit": stem_fit}, None if st is not None else init)
    arch = dict(net.args)  # with --init: the model's arch_kwargs and the --arch-arg changes
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "STOP").unlink(missing_ok=True)
    logf = open(workdir / "train.log", "a")

    def log(msg):
        line = time.strftime("%H:%M:%S ") + msg
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    sources = default_sources()
    proc = mp.get_context("spawn").Process(target=labeller,
                                           args=(str(workdir), sources, seed, os.getpid(), label_share),
                                           daemon=True)
    proc.start()
    imgs, names = load_content(sources)
    log(f"{len(imgs)} content frames from {len(sources)} sources")
    frames = [[frame(x, sh, False) for x in imgs] for sh in SHAPES]
    held = HeldOut()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    step, elapsed, history, start = 0, 0.0, [], {}
    if st is not None:
        net.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, elapsed, history, start = st["step"], st["elapsed"], st["history"], st.get("start", {})
        log(f"resumed at step {step}")
    elif init is not None:
        start = dict(begin, heldout_psnr={str(k): round(v, 2) for k, v in held.psnr(net, [0, 5, 12, 19]).items()})
        log(f"start: {start}")
    else:
        t0 = time.perf_counter()
        net.load_teacher()
        start = fit_stem(net.features, teacher_stem, imgs, stem_fit, progress=False,
                         params=list(net.stem.parameters()) + list(net.stem_norm.parameters()),
                         cond=lambda rng, n: torch.from_numpy(np.stack([sample_style(rng) for _ in range(n)])))
        log(f"stem fit: {start}")
        start.update(net.fold(imgs), seconds=round(time.perf_counter() - t0))
        p = held.psnr(net, [0, 5, 12, 19])
        start["heldout_psnr"] = {str(k): round(v, 2) for k, v in p.items()}
        log(f"start: {start}")
    labels = Labels(workdir)
    while labels.poll() < 8 * batch:
        time.sleep(2)
    rng_eval = np.random.default_rng(seed + 1)
    t0 = time.perf_counter() - elapsed
    avg = None
    net.train()
    while elapsed < minutes * 60 and not (workdir / "STOP").exists():
        if step % 20 == 0:
            n_lab = labels.poll()
        frac = elapsed / (minutes * 60)
        rng = np.random.default_rng([seed, step])
        x, y, sw = labels.batch(frames, rng, batch, small=frac < 0.15)
        cur = cosine_lr(lr, frac)
        set_lr(opt, cur)
        loss = distill_loss(net(x, sw), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        elapsed = time.perf_counter() - t0
        avg = float(loss) if avg is None else 0.98 * avg + 0.02 * float(loss)
        if step % 50 == 0:
            log(f"step {step} {elapsed / 60:.1f} min loss {avg:.5f} lr {cur:.2e} labels {n_lab}")
        if step % eval_every == 0:
            styles = sorted({5, 19, int(rng_eval.integers(S))})
            p = held.psnr(net, styles)
            history.append([step, round(elapsed, 1), {str(k): round(v, 2) for k, v in p.items()}])
            log(f"eval step {step}: " + " ".join(f"{k}:{v:.2f}" for k, v in p.items()))
            save_checkpoint(ckpt, model=net.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                            history=history, start=start, arch=arch)
    save_checkpoint(ckpt, model=net.state_dict(), opt=opt.state_dict(), step=step, elapsed=elapsed,
                    history=history, start=start, arch=arch)
    (workdir / "STOP").touch()
    proc.join(timeout=60)
    log(f"done: {step} steps, {elapsed / 60:.1f} min")
    return {"steps": step, "minutes": round(elapsed / 60, 1), "history": history, "start": start,
            "images": len(imgs), "labels": len(labels.seen) * CHUNK}


def export_multi(net, path: Path, arch=None) -> dict:
    """The conditional float model: `input` [1,3,H,W] and `style_weights` [26] -> `output`; checked against
    PyTorch and against its specialised fixed graph (runtime.specialise) at a one-hot and a blend."""
    import io
    import warnings
    import onnxruntime as ort
    import torch
    from ..imageio import atomic_write_bytes
    import onnx
    from ..runtime.specialise import fixed_graph, onnx_weights
    from ..zoo.onnx_surgery import compact_names
    net = net.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.rand(1, 3, 64, 64), torch.eye(S)[0]), buf,
                          input_names=["input", "style_weights"], output_names=["output"],
                          dynamic_axes={"input": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}},
                          opset_version=17, dynamo=False, do_constant_folding=True)
    atomic_write_bytes(path, compact_names(onnx.load_from_string(buf.getvalue())).SerializeToString())
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst, worst_fixed = 0.0, 0.0
    w = onnx_weights(path)
    for sw in (torch.eye(S)[7], torch.eye(S)[3] * 0.5 + torch.eye(S)[12] * 0.5):
        with torch.no_grad():
            ref = net(x, sw).numpy()
        got = sess.run(None, {"input": x.numpy(), "style_weights": sw.numpy()})[0]
        fixed = ort.InferenceSession(fixed_graph(w, sw.numpy(), arch=arch).SerializeToString(),
                                     providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
        worst_fixed = max(worst_fixed, float(np.abs(ref - fixed).max()))
    if max(worst, worst_fixed) > 1e-3:  # outputs 0..1: a quarter of one 8-bit step
        raise RuntimeError(f"export check failed: onnx {worst:.2e}, fixed graph {worst_fixed:.2e}")
    return {"onnx_vs_torch_max_abs": worst, "fixed_vs_torch_max_abs": worst_fixed}


def fidelity(path: Path, size: int = 512, threads: int = 2, styles=range(S)) -> dict:
    """Per-style PSNR/SSIM of the model at `path` as the runtime runs it (`Stylizer`: the specialised int8 graph
    per style, byte path) vs multistyle26 on the held-out photos at `size` px; seconds per style change."""
    from ..metrics.fidelity import psnr, ssim
    from ..runtime.stylizer import Stylizer
    from ..zoo.registry import _from_file
    held = HeldOut(size)
    st = Stylizer(_from_file(Path(path), False), threads=threads)
    rows = []
    for s in styles:
        t0 = time.perf_counter()
        st.set_style(int(s))
        st.process(held.imgs[0])  # the style change: specialise (or load from the cache), open the session
        change = time.perf_counter() - t0
        outs = [(st.stylize(x), held.label(j, s)) for j, x in enumerate(held.imgs)]
        vals = [(psnr(a, b), ssim(a, b)) for a, b in outs]
        rows.append({"style": int(s), "psnr": round(float(np.mean([v[0] for v in vals])), 2),
                     "ssim": round(float(np.mean([v[1] for v in vals])), 4), "style_change_s": round(change, 1)})
    ps = [r["psnr"] for r in rows]
    return {"psnr_median": round(float(np.median(ps)), 2), "psnr": round(float(np.mean(ps)), 2),
            "ssim": round(float(np.mean([r["ssim"] for r in rows])), 4), "size": size,
            "images": len(held.imgs), "per_style": rows}


def finish(workdir: Path, name: str, out_dir: Path, command: str, info: dict) -> Path:
    """Export the checkpoint as NAME.onnx (the conditional float model) with its card, fidelity measured."""
    import hashlib
    import torch
    from ..nets.multi import MultiRT
    from ..zoo.card import save_card
    from .data import default_sources, held_out_images
    st = torch.load(workdir / "checkpoint.pt", map_location="cpu", weights_only=False)
    arch = dict(st.get("arch") or {})
    net = MultiRT(**arch)
    net.load_state_dict(st["model"])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.onnx"
    check = export_multi(net, path, arch)
    sources = default_sources()
    card = {
        "name": name, "kind": "multi", "teacher": "multistyle26", "arch": "multi-rt", "arch_kwargs": arch, "styles": S,
        "specialise": True,
        "description": "real-time student for all 26 multistyle26 styles and their blends: each style runs as its "
                       "own fixed int8 graph, made once per style (runtime/specialise.py)",
        "licence": "Apache-2.0 (trained here from Apache-2.0 teacher weights)",
        "input": {"name": "input", "layout": "NCHW", "range": "0..1 RGB float32", "multiple": 4,
                  "extra": "style_weights[26]"},
        "params": int(sum(p.numel() for p in net.parameters())),
        "training": {"command": command, "method": "distillation from multistyle26 (pixel MSE + gradient MSE), a "
                     "random style per sample (75% one-hot, 25% two-style blends), whole frames 384x512 / 288x384",
                     "steps": st["step"], "minutes": round(st["elapsed"] / 60, 1), "start": st.get("start", {}),
                     "eval_history": st.get("history", []),
                     "data": {"sources": sources, "names_sha256": hashlib.sha256(
                         "\n".join(sources).encode()).hexdigest()[:12],
                         "held_out": [p.name for p in held_out_images()]}, **info},
        "export": check, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    save_card(path, card)  # the one typed card (validated); fidelity is measured through it
    card["fidelity"] = fidelity(path)
    save_card(path, card)
    return path


def run(name: str, workdir: Path, minutes: float, out_dir=None, lr: float = 5e-4, batch: int = 4,
        stem_fit: int = 600, threads: int = 2, resume: bool = False, finish_only: bool = False, arch=None,
        init=None, label_share: float = 0.25) -> dict:
    """Train (unless `finish_only`), then export NAME.onnx + card into `out_dir` (default: the user zoo)."""
    from ..paths import user_models_dir
    from .loop import command_line
    from ..zoo.card import load_card
    info = {"lr": lr, "batch": batch, "label_share": label_share}
    if not finish_only:
        res = train(name, Path(workdir), minutes, lr, batch, stem_fit, threads=threads, resume=resume, arch=arch,
                    init=init, label_share=label_share)
        info.update({k: res[k] for k in ("images", "labels")})
    path = finish(Path(workdir), name, Path(out_dir) if out_dir else user_models_dir(), command_line(), info)
    fid = load_card(path).fidelity
    return {"name": name, "path": str(path), "fidelity": {k: v for k, v in fid.items() if k != "per_style"}}

