"""Distillation: a big teacher labels content images, a tiny student learns them with a pixel loss.

Teacher outputs are computed once per content image at full frame (so the student learns what the
teacher does on whole frames, global instance-norm statistics included), then every step draws fresh
random crops and rescales of (input, target) pairs.
"""
from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import UserError
from ..imageio import atomic_file
from ..zoo.card import ModelCard
from .data import default_sources, held_out_images, load_content, resize_long
from .losses import distill_loss, stability_loss
from .loop import (Budget, CsvLog, check_teacher, command_line, cosine_lr, finish_model, load_checkpoint, net_multiple,
                   optimise, param_groups, prepare_workdir, running_average, save_checkpoint, seed_all, set_lr,
                   start_from_teacher)


SCALES = (1.0, 0.7)  # content scales labelled by the teacher (scaling happens before the teacher, never after)
INIT_LABELS = 96  # content frames the teacher labels for `--init` (x2 scales x2 mirrors), unless --labels says
ALIGN = 8  # crop offsets on the teachers' stride grid (multistyle26: 4, Magenta: 4; 8 covers the students too)


def make_pairs(teacher, imgs: List[np.ndarray], flips: bool = True, progress: bool = True,
               scales=SCALES):
    """(input, teacher(input)) at full frame for each image, its mirror and each scale.

    The teacher is far from shift- and scale-equivariant (docs/teacher_ceiling.md), so targets are never
    resampled: a rescaled crop gets a target the teacher made from that rescaled input."""
    from tqdm import tqdm
    pairs = []
    for img in tqdm(imgs, desc="teacher", disable=not progress, unit="img"):
        for s in scales:
            v0 = img if s == 1.0 else resize_long(img, max(64, round(max(img.shape[:2]) * s)))
            for v in ([v0, np.ascontiguousarray(v0[:, ::-1])] if flips else [v0]):
                pairs.append((v, (teacher(v) * 255 + 0.5).astype(np.uint8)))
    return pairs


def cached_pairs(teacher, imgs, names, progress: bool = True):
    """Teacher targets cached on disk (keyed by teacher + content names) so restarts skip the labelling."""
    from ..paths import cache_dir
    key = hashlib.sha256((teacher.spec + f"\nscales={SCALES}\n" + "\n".join(names)).encode()).hexdigest()[:16]
    path = cache_dir() / "pairs" / f"{key}.npz"
    if path.exists():
        try:
            z = np.load(path)
            n = len([k for k in z.files if k.startswith("x")])
            return [(z[f"x{i}"], z[f"y{i}"]) for i in range(n)]
        except (OSError, ValueError, KeyError):
            pass
    pairs = make_pairs(teacher, imgs, progress=progress)
    with atomic_file(path) as f:  # parallel runs may label the same images
        np.savez(f, **{f"x{i}": x for i, (x, _) in enumerate(pairs)}, **{f"y{i}": y for i, (_, y) in enumerate(pairs)})
    return pairs


def sample_batch(pairs, batch: int, crop: int, rng: np.random.Generator, align: int = ALIGN):
    """Random crops whose offsets are multiples of `align`, so the student sees each pixel at the same phase of
    the teacher's stride grid as in the full frame (a 1-px shift changes bold teachers' output a lot: docs/teacher_ceiling.md)."""
    import torch
    fits = [i for i, (x, _) in enumerate(pairs) if min(x.shape[:2]) >= crop]
    if not fits:
        crop = min(min(x.shape[:2]) for x, _ in pairs) // align * align
        fits = list(range(len(pairs)))
    xs, ys = [], []
    for _ in range(batch):
        x, y = pairs[fits[rng.integers(len(fits))]]
        h, w = x.shape[:2]
        top = rng.integers(0, (h - crop) // align + 1) * align
        left = rng.integers(0, (w - crop) // align + 1) * align
        xs.append(torch.from_numpy(np.ascontiguousarray(x[top:top + crop, left:left + crop])).permute(2, 0, 1))
        ys.append(torch.from_numpy(np.ascontiguousarray(y[top:top + crop, left:left + crop])).permute(2, 0, 1))
    x = torch.stack([t.float() for t in xs]) / 255.0
    y = torch.stack([t.float() for t in ys]) / 255.0
    return x, y


def sample_frames(pairs, batch: int, rng: np.random.Generator, small: bool = False, multiple: int = ALIGN):
    """Whole frames: the teachers' instance norms see the whole image, so a crop of a full-frame target is
    far from the teacher's output on that crop (docs/teacher_ceiling.md). Training on whole frames makes the student's norms see
    exactly the context the teacher saw. A batch holds frames of one shape (trimmed to `multiple` at the
    bottom/right, which keeps the stride grid); `small` draws from the smaller scale only (cheap early steps)."""
    import torch
    shapes = {}
    for i, (x, _) in enumerate(pairs):
        h, w = x.shape[0] // multiple * multiple, x.shape[1] // multiple * multiple
        shapes.setdefault((h, w), []).append(i)
    keys = sorted(shapes)
    if small:  # the smaller half of the frames (the 0.7x scale)
        med = float(np.median([max(k) for k in keys]))
        keys = [k for k in keys if max(k) <= med]
    weights = np.array([len(shapes[k]) for k in keys], np.float64)
    h, w = keys[rng.choice(len(keys), p=weights / weights.sum())]
    idx = rng.choice(shapes[(h, w)], size=batch)
    x = np.stack([pairs[i][0][:h, :w] for i in idx])
    y = np.stack([pairs[i][1][:h, :w] for i in idx])
    return (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0,
            torch.from_numpy(y).permute(0, 3, 1, 2).float() / 255.0)


def evaluate(net, evalset) -> float:
    import torch
    import torch.nn.functional as F
    net.eval()
    vals = []
    with torch.no_grad():
        for x, y in evalset:
            h, w = x.shape[:2]
            m = net_multiple(net)
            t = torch.from_numpy(np.array(x)).permute(2, 0, 1)[None].float() / 255
            ph, pw = (-h) % m, (-w) % m
            t = F.pad(t, (0, pw, 0, ph), mode="reflect")
            o = net(t)[0, :, :h, :w].permute(1, 2, 0).numpy()
            mse = float(np.mean((o - y.astype(np.float32) / 255) ** 2))
            vals.append(10 * np.log10(1 / max(mse, 1e-10)))
    net.train()
    return float(np.mean(vals))


def distill(teacher: str, name: str, arch: str = "fast", arch_kwargs: Optional[dict] = None,
            content: Optional[List[str]] = None, steps: Optional[int] = None, minutes: Optional[float] = None,
            batch: int = 4, crop: int = 0, lr: float = 2e-3, seed: int = 0, workdir: Optional[Path] = None,
            resume: bool = False, out_dir: Optional[Path] = None, eval_every: int = 250,
            progress: bool = True, threads: Optional[int] = None, grad_weight: float = 0.5,
            stability: float = 0.0, init=None, labels: Optional[int] = None) -> dict:
    import torch
    from tqdm import tqdm
    from ..nets import build
    from ..zoo.teachers import Teacher

    budget = Budget(steps, minutes)
    if threads:
        torch.set_num_threads(threads)
    seed_all(seed)

    t_spec = Teacher(teacher, threads=threads)
    sources = content or default_sources()
    prepare = None
    if init is not None:  # a ready student at this teacher's style: a fixed net of its shape
        net, arch, arch_kwargs, prepare = start_from_student(init, t_spec, arch_kwargs)
    else:
        net = build(arch, **(arch_kwargs or {}))
    check_teacher(net, t_spec)  # before the (slow) labelling
    workdir, ckpt = prepare_workdir(workdir, name, resume)  # after every refusal above: nothing left behind
    imgs, names = load_content(sources)
    if labels is None and init is not None:
        labels = INIT_LABELS  # a student that starts near the target needs fewer teacher labels (docs/students.md)
    if labels and len(imgs) > labels:  # an even subset of the content frames
        keep = np.linspace(0, len(imgs) - 1, labels).round().astype(int)
        imgs, names = [imgs[i] for i in keep], [names[i] for i in keep]
    pairs = cached_pairs(t_spec, imgs, names, progress)
    evalset = [(x, (t_spec(x) * 255 + 0.5).astype(np.uint8))
               for x in (resize_long(__import__("framestyle").load_image(p), 512) for p in held_out_images())]
    if not evalset:
        evalset = pairs[:4]

    if init is not None and not resume:
        folded = prepare([x for x, _ in pairs[::2]]) if prepare is not None else {}
        start = {"init": str(init), **folded, "heldout_psnr": round(evaluate(net, evalset), 3)}
    else:
        start = {} if resume else start_from_teacher(net, t_spec, [x for x, _ in pairs[::2]],
                                                      lambda n: evaluate(n, evalset), progress)
    # a ready student (--init) is fine-tuned: its style maps (MG) at the lower rate of train.loop.param_groups
    opt = torch.optim.Adam(param_groups(net, lr) if init is not None else net.parameters(), lr=lr)
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
        early = budget.frac(step, elapsed) <= 0.3
        rng = np.random.default_rng([seed, step])  # per-step stream: a resumed run draws the same batches
        if crop:
            cur_crop = max(64, crop // 2) if early else crop
            x, y = sample_batch(pairs, batch if cur_crop == crop else batch * 2, cur_crop, rng)
        else:
            x, y = sample_frames(pairs, batch, rng, small=early)
        cur_lr = cosine_lr(lr, budget.frac(step, elapsed))
        if init is not None:  # a ready student: warm up over the first 10% (Adam's first steps move every weight)
            cur_lr *= min(1.0, (budget.frac(step, elapsed) + 1e-3) / 0.1)
        set_lr(opt, cur_lr)
        out = net(x)
        loss = distill_loss(out, y, grad_weight)
        if stability > 0:
            loss = loss + stability * stability_loss(net, x, out, rng)
        if not torch.isfinite(loss):
            if last_good is None:
                raise UserError("loss became non-finite at the first steps; lower --lr")
            save_checkpoint(ckpt, **last_good)
            raise UserError(f"loss became non-finite at step {step}; kept the last good checkpoint {ckpt}")
        optimise(opt, loss, step)
        step += 1
        elapsed = time.perf_counter() - t0
        loss_avg = running_average(loss_avg, loss, 0.98)
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
        "training": {"command": command_line(), "method": "distillation (pixel MSE + gradient MSE"
                     + (f" + {stability} x stability: noise/shift invariance)" if stability else ")"),
                     "stability": stability,
                     "steps": step, "minutes": round(elapsed / 60, 1), "batch": batch, "crop": crop, "lr": lr,
                     "seed": seed, "data": _describe(sources, names), "eval_history": history,
                     **({"start": start} if start else {})},
    }
    path = finish_model(net, name, card, out_dir, multiple=net_multiple(net))
    fid = measure_fidelity(path, t_spec)
    full = ModelCard.load(path.with_suffix(".json"))
    full.fidelity = fid
    full.save(path)
    return {"name": name, "path": str(path), "steps": step, "minutes": round(elapsed / 60, 2), "fidelity": fid}


def start_from_student(init, teacher, arch_kwargs=None):
    """`distill --init MODEL`: a trained real-time student at the teacher's style, so training begins near the
    target -> (net, arch, arch_kwargs, prepare(content frames) -> dict, or None). MODEL: the any-painting student
    (a float cond-mg export, e.g. the built-in `arbitrary`) for `--teacher magenta`, at the painting's style
    vector, its up-path's norms folded at their statistics on the content photos; the multi-style student
    (`multi26`) for `--teacher multistyle26:S`, at style S; a float `ms26` student of that style (its up-path's
    norms folded); or an `mg` student of that painting, float or int8, as it is or, with `--arch-arg
    stem=phase3`, its stem's 5x5 conv cut to 3x3 and fitted to its own stem's features."""
    from ..zoo import get_model
    info = get_model(str(init))
    kind = getattr(teacher, "kind", None)
    extra = dict(arch_kwargs or {})
    same_style = _same_teacher(info.teacher, teacher)
    if extra and not (info.card.get("arch") == "mg" and extra == {"stem": "phase3"}):
        raise UserError("with --init the student keeps MODEL's shape; the one change it takes is --arch-arg "
                        "stem=phase3 for an mg student")
    try:
        if (info.kind == "multi" and info.card.get("arch") == "multi-rt" and kind == "multistyle26"
                and (info.style is None or same_style)):  # a named style of it (pastel = 12): that style only
            from ..nets.multi import MultiRT
            kw = dict(info.card.get("arch_kwargs") or {})
            return (MultiRT.from_export(info.path, **kw).specialise(teacher.weights).train(), "multi-rt-fixed", kw,
                    None)
        if info.kind == "arbitrary" and kind == "magenta":  # its up-path's norms folded (as the runtime does)
            from ..nets.mgnet import MG
            cond = MG.from_export(info.path)
            kwargs = {k: (",".join(map(str, v)) if k == "up" else v) for k, v in cond.args.items() if k != "cond"}
            net, twin = MG(**{**cond.args, "cond": False}, fold="head"), cond.specialise(teacher.vec)
            return net, "mg", {**kwargs, "fold": "head"}, lambda inputs: net.fold_from(twin, inputs)
        if info.card.get("arch") == "ms26" and kind == "multistyle26" and same_style:
            # a student of this style: its up-path's norms folded (it fine-tunes as fold=head)
            from ..nets import build
            from ..nets.ms26 import MS26
            from ..nets.teacher_shaped import load_fixed_export
            kwargs = dict(info.card.get("arch_kwargs") or {})
            if kwargs.get("fold", "none") != "none":  # folded already (e.g. an int8 ms26 student): as it is
                return load_fixed_export(build("ms26", **kwargs), info.path, "ms26").train(), "ms26", kwargs, None
            twin = MS26.from_export(info.path, **kwargs)
            kwargs = {**{k: v for k, v in twin.args.items() if k != "fold"}, "fold": "head"}
            net = build("ms26", **kwargs)
            return net, "ms26", kwargs, lambda inputs: net.fold_from(twin, inputs)
        if info.card.get("arch") == "mg" and kind == "magenta" and same_style:
            return _from_mg(info, teacher, extra.get("stem"))
    except (ValueError, OSError, KeyError) as exc:
        raise UserError(f"--init {init}: cannot start from it ({exc})") from None
    raise UserError(f"--init {init}: takes the any-painting student (e.g. arbitrary) with --teacher magenta, "
                    "the multi-style student (multi26) with --teacher multistyle26:S, or a student of the "
                    "teacher's own style (ms26 with --teacher multistyle26:S; mg, e.g. starry with "
                    "--teacher magenta --style-image starry_night.jpg)")


def _same_teacher(label, teacher) -> bool:
    """Does a card's teacher label ("multistyle26:12", "magenta:starry_night.jpg") name this teacher's style?"""
    from ..zoo.teachers import card_spec, parse_style
    if not label or ":" not in label:
        return False
    try:
        spec = card_spec(label)
    except UserError:
        return False
    kind, arg = spec.split(":", 1)
    if kind != getattr(teacher, "kind", None):
        return False
    if kind == "multistyle26":
        return bool(np.allclose(parse_style(arg), teacher.weights))
    mine = teacher.spec.split(":", 1)[1]
    return Path(arg).resolve() == Path(mine).resolve() or Path(arg).read_bytes() == Path(mine).read_bytes()


def _from_mg(info, teacher, stem=None):
    """A fixed mg student of this painting (float or int8 export); `stem="phase3"`: its 5x5 phase-stem conv cut to
    3x3 (`shrink_kernel`) and fitted to its own stem's output on the content frames (`stem_fit` steps)."""
    import torch
    from ..nets.mgnet import MG
    from ..nets.teacher_shaped import fit_stem, load_fixed_export, shrink_kernel
    kwargs = dict(info.card.get("arch_kwargs") or {})
    twin = load_fixed_export(MG(**kwargs), info.path, "mg").eval()
    twin.vec.copy_(torch.as_tensor(np.asarray(teacher.vec, np.float32)).reshape(1, 100))
    if stem is None:
        return twin.train(), "mg", kwargs, None
    if kwargs.get("stem") != "phase":
        raise ValueError("stem=phase3 needs an mg student with the phase stem")
    kwargs = {**kwargs, "stem": "phase3"}
    net = MG(**kwargs)
    state = twin.state_dict()
    state["stem.1.weight"] = shrink_kernel(state["stem.1.weight"], 3)
    net.load_state_dict(state)

    return net.train(), "mg", kwargs, lambda inputs: fit_stem(net.stem, twin.stem, inputs, net.stem_fit,
                                                              progress=False)


def _describe(sources, names) -> dict:
    h = hashlib.sha256("\n".join(names).encode()).hexdigest()[:12]
    return {"sources": [str(s) for s in sources], "images": len(names), "names_sha256": h,
            "held_out": [p.name for p in held_out_images()]}


def measure_fidelity(model_path, teacher, images=None, size: int = 512) -> dict:
    """PSNR/SSIM of the exported ONNX (through the Stylizer; or a ready Stylizer, e.g. one style of a model) vs
    the teacher on held-out photos at `size` px."""
    from ..imageio import load_image
    from ..metrics.fidelity import psnr, ssim
    from ..runtime.stylizer import Stylizer
    st = model_path if isinstance(model_path, Stylizer) else Stylizer(str(model_path))
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
