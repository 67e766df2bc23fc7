"""Post-training quantisation of an ONNX student: int8 static (QDQ, calibrated), int8 dynamic, fp16.

    from framestyle.shrink.quantize import quantize
    res = quantize("runs/x/out/x.onnx", "int8", "my-int8")   # lands in the user zoo with a card
"""
from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, List, Optional, Union

import numpy as np

from ..errors import UserError
from ..zoo import ModelInfo, add_user_model
from .from_onnx import load_info

METHODS = ("int8", "int8-dynamic", "fp16")
OPENCV_PHOTOS = ["baboon.jpg", "fruits.jpg", "lena.jpg", "messi5.jpg", "orange.jpg", "butterfly.jpg",
                 "apple.jpg", "HappyFish.jpg", "starry_night.jpg", "graf1.png", "pic1.png"]
SKIMAGE_CALIB = ["astronaut", "coffee", "chelsea", "rocket"]
CALIB_PERCENTILE = 99.99


def calibration_images(calib_dir: Optional[Union[str, Path]] = None, size: int = 256,
                       limit: int = 16) -> List[np.ndarray]:
    """Real photos for int8 calibration: the central square of each, resized to `size` x `size` (one shape, as the
    percentile calibration needs). Default: skimage + OpenCV sample photos (never the held-out photos used for
    the PSNR numbers)."""
    from ..imageio import IMAGE_EXTS, load_image
    from ..train.data import OPENCV_DATA
    imgs = []
    if calib_dir is not None:
        d = Path(calib_dir)
        if not d.is_dir():
            raise UserError(f"--calib {d}: not a folder")
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        for p in files[:limit]:
            try:
                imgs.append(load_image(p))
            except UserError:
                continue
        if not imgs:
            raise UserError(f"--calib {d}: no readable images")
    else:
        import skimage.data
        imgs = [getattr(skimage.data, n)()[..., :3] for n in SKIMAGE_CALIB]
        imgs += [load_image(OPENCV_DATA / n) for n in OPENCV_PHOTOS if (OPENCV_DATA / n).exists()]
        imgs = [i for i in imgs if i.ndim == 3][:limit]
    return [square(i, size) for i in imgs]


def calibration_card(calib: List[np.ndarray], calib_dir=None, **extra) -> dict:
    """What a derived card records about the int8 calibration."""
    return {"images": len(calib), **extra, "source": str(calib_dir or "default offline photos"), "per_channel": True,
            "ranges": f"percentile {CALIB_PERCENTILE}"}


def square(img: np.ndarray, size: int) -> np.ndarray:
    """The central square of `img`, resized to size x size."""
    import cv2
    h, w = img.shape[:2]
    c = min(h, w)
    t, l = (h - c) // 2, (w - c) // 2
    sq = np.ascontiguousarray(img[t:t + c, l:l + c])
    return cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA if c > size else cv2.INTER_LINEAR)


def model_feeds(sess, img: np.ndarray, multiple: int, index: int = 0, styles=None) -> dict:
    """ORT feeds for one image: the padded NCHW image plus a one-hot for any extra weight input (multi-style),
    or for an arbitrary-style student one of the (100,) style vectors `styles`."""
    from ..runtime import ops
    h, w = img.shape[:2]
    hp, wp = ops.padded_size(h, w, multiple)
    x = ops.to_nchw(img, np.zeros((1, 3, hp, wp), np.float32))
    ins = sess.get_inputs()
    feeds = {ins[0].name: x}
    for extra in ins[1:]:
        if styles is not None:
            feeds[extra.name] = np.asarray(styles[index % len(styles)], np.float32).reshape(1, -1)
            continue
        n = int(extra.shape[-1]) if isinstance(extra.shape[-1], int) else 1
        v = np.zeros(extra.shape if all(isinstance(s, int) for s in extra.shape) else (n,), np.float32)
        v.reshape(-1)[index % v.size] = 1.0
        feeds[extra.name] = v
    return feeds


class _Reader:
    """onnxruntime CalibrationDataReader over a list of images."""

    def __init__(self, path: Path, imgs: List[np.ndarray], multiple: int, styles=None):
        from ..runtime.session import make_session
        sess = make_session(path, threads=2)
        self.feeds = iter([model_feeds(sess, im, multiple, i, styles) for i, im in enumerate(imgs)])

    def get_next(self):
        return next(self.feeds, None)


def quantize_file(src: Path, dst: Path, method: str, calib: Optional[List[np.ndarray]] = None,
                  multiple: int = 8, styles=None, keep_float=()) -> None:
    """Write the quantised copy of `src` to `dst` (atomically). `styles`: style vectors to calibrate an
    arbitrary-style student with; `keep_float`: names of further nodes to leave in float."""
    import onnx
    dst = Path(dst)
    part = dst.with_name(dst.name + ".part.onnx")
    if method == "fp16":
        from onnxconverter_common import float16
        m = float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
        onnx.save(m, str(part))
    elif method in ("int8", "int8-dynamic"):
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_dynamic, quantize_static)
        from onnxruntime.quantization.shape_inference import quant_pre_process
        with tempfile.TemporaryDirectory() as td:
            pre = Path(td) / "pre.onnx"
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            pm = onnx.load(str(pre))
            # float: the norms, and the 100->C style maps (tiny, run once per frame: quantising only adds nodes)
            skip = [n.name for n in pm.graph.node if n.op_type in ("InstanceNormalization", "Gemm")
                    or n.name in keep_float]
            if method == "int8":
                reader = _Reader(src, calib or calibration_images(), multiple, styles)
                CalibrationDataReader.register(_Reader)
                # percentile ranges (99.99%): finer steps for the bulk of each activation than min/max
                # (measured in docs/students.md)
                with contextlib.redirect_stdout(sys.stderr):  # ORT prints calibration progress: keep --json clean
                    quantize_static(str(pre), str(part), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                    calibrate_method=CalibrationMethod.Percentile,
                                    extra_options={"CalibPercentile": CALIB_PERCENTILE,
                                                   "TensorQuantOverrides": byte_exact(pm)},
                                    calibration_providers=["CPUExecutionProvider"], nodes_to_exclude=skip)
                q = onnx.load(str(part))
                if int8_pads(q):
                    onnx.save(q, str(part))
            else:
                # ConvInteger on the CPU provider takes uint8 weights
                quantize_dynamic(str(pre), str(part), per_channel=False, weight_type=QuantType.QUInt8,
                                 nodes_to_exclude=skip)
    else:
        raise UserError(f"unknown quantisation {method!r}; choose one of {', '.join(METHODS)}")
    part.replace(dst)


def int8_pads(model) -> int:
    """Reflect/edge pads on the int8 codes: each `DQ -> Pad -> Q` (which ONNX Runtime runs in float, with
    transposes around it) becomes the Pad on the DQ's uint8 input, and the DQs reading the Q's output take the
    input's scale and zero point (exact: these pads only copy values). Returns how many were rewritten."""
    from ..zoo.onnx_surgery import links
    g = model.graph
    users, prod = links(g)
    drop, done = set(), 0
    for pad in g.node:
        mode = next((a.s.decode() for a in pad.attribute if a.name == "mode"), "constant")
        dq, qs = prod.get(pad.input[0]), users.get(pad.output[0], [])
        if (pad.op_type != "Pad" or mode not in ("reflect", "edge") or dq is None
                or dq.op_type != "DequantizeLinear" or len(qs) != 1 or qs[0].op_type != "QuantizeLinear"):
            continue
        q = qs[0]
        after = users.get(q.output[0], [])
        if not after or any(n.op_type != "DequantizeLinear" for n in after) or len(dq.input) < 3:
            continue
        pad.input[0] = dq.input[0]
        pad.output[0] = q.output[0]
        for n in after:
            n.input[1], n.input[2] = dq.input[1], dq.input[2]
        drop.add(id(q))
        done += 1
        if len(users.get(dq.output[0], [])) == 1:
            drop.add(id(dq))
    if drop:
        keep = [n for n in g.node if id(n) not in drop]
        del g.node[:]
        g.node.extend(keep)
    return done


def byte_exact(model) -> dict:
    """Quantisation overrides for the tensors that hold 8-bit pixels: the input image (bytes / 255), the output of
    a one-hot space-to-depth conv on it, and a final sigmoid's output up to the graph output (through pixel
    shuffles). Scale 1/255, zero point 0: exact for 8-bit frames (the calibrated ranges clipped the brightest
    output values, e.g. at 0.949 for starry-rt), and the uint8 runtime passes these bytes without conversion
    (runtime.u8ends)."""
    from onnx import numpy_helper
    g = model.graph
    exact = [{"scale": np.array(1 / 255, np.float32), "zero_point": np.array(0, np.uint8)}]
    names = [g.input[0].name]
    for n in g.node:
        if n.op_type == "Conv" and n.input[0] == names[0] and len(n.input) == 2:
            from ..runtime.u8ends import one_hot_s2d_weight
            w = next((i for i in g.initializer if i.name == n.input[1]), None)
            if w is not None and one_hot_s2d_weight(numpy_helper.to_array(w)):
                names.append(n.output[0])
    out = g.output[0].name
    chain, t = [], out
    while True:
        prod = next((n for n in g.node if t in n.output), None)
        if prod is None or prod.op_type not in ("DepthToSpace", "Sigmoid"):
            break
        chain.append(t)
        if prod.op_type == "Sigmoid":
            names += chain
            break
        t = prod.input[0]
    return {k: exact for k in names}


def compare_models(ref: ModelInfo, other: ModelInfo, images: Optional[Iterable] = None, size: int = 512,
                   threads: int = 2) -> dict:
    """PSNR/SSIM of `other` against `ref` (both through the Stylizer) on held-out photos at `size` px."""
    from ..imageio import load_image
    from ..metrics.fidelity import psnr, ssim
    from ..runtime.stylizer import Stylizer
    from ..train.data import held_out_images, resize_long
    a, b = Stylizer(ref, threads=threads), Stylizer(other, threads=threads)
    rows = []
    for p in images if images is not None else held_out_images():
        x = resize_long(load_image(p), size)
        ya, yb = a.stylize(x), b.stylize(x)
        rows.append((psnr(ya, yb), ssim(ya, yb)))
    if not rows:
        raise UserError("no held-out photos found to measure quality (FRAMESTYLE_SHARED_DATA)")
    odd = b.stylize(np.ascontiguousarray(resize_long(load_image(next(iter(images or held_out_images()))), 203)))
    return {"psnr": round(float(np.mean([r[0] for r in rows])), 2),
            "ssim": round(float(np.mean([r[1] for r in rows])), 4), "size": size, "images": len(rows),
            "runs_at": [list(odd.shape[:2])]}


def derived_card(src: ModelInfo, method: str, path: Path, **extra) -> dict:
    from ..metrics.cost import kmac_per_pixel
    from ..train.loop import command_line
    # `training` stays: how the weights were trained (the source's exact command); `command` made this copy
    card = {k: v for k, v in src.card.to_json().items() if k not in ("name", "fidelity", "export", "created")}
    card.update(kind=src.kind, derived_from=src.name, method=method, size_bytes=path.stat().st_size,
                source_size_bytes=src.size_bytes, created=time.strftime("%Y-%m-%d %H:%M:%S"),
                command=command_line(), kmac_per_pixel=kmac_per_pixel(path))
    if src.teacher and "teacher" not in card:
        card["teacher"] = src.teacher
    if src.style is not None:  # a named style of a multi-style file: the copy is that one style, a fixed model
        for k in ("specialise", "styles", "arch_kwargs"):
            card.pop(k, None)
        card.update(kind="fixed", teacher=src.teacher, input={"name": "input", "multiple": src.multiple})
    if src.fidelity:
        card["source_fidelity"] = {k: v for k, v in src.fidelity.items() if k not in ("per_image", "per_style")}
    card.setdefault("input", {"name": "input", "multiple": src.multiple})
    card.setdefault("description", f"{src.name} ({method})")
    card["description"] = f"{src.card.get('description', src.name)} [{method}]"
    card.update(extra)
    return card


def register_derived(tmp_path: Path, src: ModelInfo, name: str, method: str, images=None, out_dir=None,
                     **extra) -> dict:
    """Measure a derived model against its source (and its teacher, if the source was distilled), then add it
    to the user zoo (or write it to `out_dir`, e.g. the built-in folder) with its card."""
    card = derived_card(src, method, tmp_path, **extra)
    tmp_path.with_suffix(".json").write_text(json.dumps(card, indent=2))
    from ..zoo.registry import _from_file
    cmp = compare_models(src, _from_file(tmp_path, False, name), images)
    card["fidelity_vs_source"] = cmp
    res = {}
    if src.fidelity and (src.kind == "fixed" or src.style is not None) and src.teacher and images is None:
        try:
            card["fidelity"] = teacher_fidelity(tmp_path, src.teacher)
            res = {"psnr_vs_teacher": card["fidelity"]["psnr"], "ssim_vs_teacher": card["fidelity"]["ssim"]}
        except UserError as exc:  # e.g. the teacher's style image is not on this machine: skip, say why
            card["fidelity_skipped"] = str(exc)
    info = save_model(tmp_path, name, card, out_dir)
    return {"name": info.name, "path": str(info.path), "method": method, "derived_from": src.name,
            "size_bytes": info.size_bytes, "source_size_bytes": src.size_bytes,
            "psnr_vs_source": cmp["psnr"], "ssim_vs_source": cmp["ssim"], **res, **extra}


def teacher_fidelity(path: Path, teacher: str) -> dict:
    """PSNR/SSIM vs the teacher a card names ("multistyle26:12", "magenta:starry_night.jpg"), held-out photos."""
    from ..train.distill import measure_fidelity
    from ..zoo.teachers import Teacher, card_spec
    return measure_fidelity(path, Teacher(card_spec(teacher)))


def save_model(tmp_path: Path, name: str, card: dict, out_dir=None) -> ModelInfo:
    """Into the user zoo, or (out_dir) as out_dir/NAME.onnx + NAME.json, both written atomically."""
    if out_dir is None:
        return add_user_model(tmp_path, name, card)
    try:
        return add_user_model(tmp_path, name, card, folder=out_dir)
    except OSError as exc:
        raise UserError(f"--out-dir {out_dir}: cannot write there ({exc.strerror or exc})") from None


def quantize(model: Union[str, Path, ModelInfo], method: str, name: str, calib_dir=None, images=None,
             out_dir=None, force: bool = False, command: Optional[str] = None) -> dict:
    """Quantise a zoo model or .onnx file, add it to the user zoo as `name` (or write it to `out_dir`), report
    size and PSNR vs the float model (and vs its teacher when it was distilled from one). `command`: what the
    card records as the command that made it (default: this process's command line)."""
    from ..zoo import get_model
    src = model if isinstance(model, ModelInfo) else get_model(str(model))
    from ..runtime.specialise import specialisable
    if src.kind == "multi" and specialisable(src):
        raise UserError(f"model {src.name!r} runs as int8 already: each of its styles becomes its own fixed int8 "
                        "graph when first used (runtime/specialise.py, cached); nothing to quantise")
    if src.kind == "arbitrary" and src.card.get("method") != "student":
        raise UserError(f"model {src.name!r} is not a distilled arbitrary-style student (a float train-arbitrary "
                        "output); quantise a student, or a fixed or multi-style model")
    src = load_info(src)
    if src.card.get("quantization") or src.card.get("method") in METHODS or _is_quantised(src.path):
        raise UserError(f"model {src.name!r} is already quantised; quantise its float source "
                        f"({src.card.get('derived_from') or 'the model it was made from'})")
    if src.kind == "arbitrary":
        from .arbitrary_int8 import quantize_student
        return quantize_student(src, method, name, calib_dir, out_dir, force)
    check_name(name, src.name, out_dir, force)
    calib = calibration_images(calib_dir) if method == "int8" else None
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / f"{name}.onnx"
        quantize_file(src.path, tmp, method, calib, src.multiple)
        extra = {"calibration": calibration_card(calib, calib_dir)} if calib else {}
        if command:
            extra["command"] = command
        return register_derived(tmp, src, name, method, images, out_dir, **extra)


def _is_quantised(path: Path) -> bool:
    import onnx
    try:
        nodes = onnx.load(str(path), load_external_data=False).graph.node
    except Exception:  # unreadable files are reported by whoever loads them next
        return False
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger") for n in nodes)


def check_name(name: str, src_name: str, out_dir=None, force: bool = False) -> None:
    """A valid new name whose files do not exist yet where they will be written (unless `force`)."""
    from ..outputs import model_output
    if name == src_name:
        raise UserError(f"-o {name!r} is the source model's name; choose a new name")
    from ..zoo.catalogue import ALIASES, entry
    if out_dir is None and (entry(name) or name in ALIASES):  # a user model under it could never be reached
        raise UserError(f"-o {name!r} is a built-in model's name (see `framestyle models`); choose a new name")
    model_output(name, out_dir, force)
