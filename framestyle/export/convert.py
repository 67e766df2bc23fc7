"""`framestyle export`: one student to ONNX / TFLite / Core ML, RGB or YUV camera input, checked against ORT.

    from framestyle.export.convert import export_model
    export_model("nightblue", "tflite", "nb.tflite", size=(480, 640), nhwc=True)

The PyTorch net is rebuilt from the student's ONNX (framestyle.shrink.from_onnx), wrapped (YUV -> RGB,
NHWC), exported, then run on a real photo and compared with the source ONNX under ONNX Runtime. For YUV
inputs the reference is OpenCV's conversion (cv2.cvtColor ..._NV12 / _I420) followed by the RGB model.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ..errors import UserError
from ..imageio import atomic_write_bytes
from ..outputs import check_output
from . import yuv

TARGETS = ("onnx", "tflite", "coreml")
SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "coreml": ".mlpackage"}


def photo(h: int, w: int) -> np.ndarray:
    """A real photo (skimage astronaut) resized to exactly h x w, uint8 RGB."""
    import cv2
    import skimage.data
    return cv2.resize(skimage.data.astronaut(), (w, h), interpolation=cv2.INTER_AREA)


def reference(info, img: np.ndarray) -> np.ndarray:
    """Source model under ORT on uint8 RGB `img` -> [1,3,H,W] float."""
    from ..runtime.session import make_session
    from ..shrink.quantize import model_feeds
    sess = make_session(info.path, threads=2)
    h, w = img.shape[:2]
    feeds = model_feeds(sess, img, info.multiple)
    if info.style is not None and len(sess.get_inputs()) > 1:  # a named style of a multi-style file: its weights
        feeds[sess.get_inputs()[1].name] = np.asarray(info.style_weights, np.float32)
    return sess.run(None, feeds)[0][:, :, :h, :w]


def torch_to_onnx(module, sample: np.ndarray, path: Path, name: str, dynamic: bool, opset: int,
                  nhwc: bool) -> None:
    import torch
    if dynamic:
        if name == "yuv":
            dyn_in = {0: "rows", 1: "width"}
        else:
            dyn_in = {1: "height", 2: "width"} if nhwc else {2: "height", 3: "width"}
        dyn_out = {1: "height", 2: "width"} if nhwc else {2: "height", 3: "width"}
        axes = {name: dyn_in, "output": dyn_out}
    else:
        axes = None
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.from_numpy(sample),), buf, input_names=[name],
                          output_names=["output"], dynamic_axes=axes, opset_version=opset, dynamo=False,
                          do_constant_folding=True)
    atomic_write_bytes(path, buf.getvalue())


def run_exported(to: str, path: Path, x: np.ndarray, name: str) -> np.ndarray:
    if to == "onnx":
        from ..runtime.session import make_session
        return make_session(path, threads=2).run(None, {name: x})[0]
    from .tflite import run_tflite
    return run_tflite(path, x)


def _check_size(h: int, w: int, multiple: int, fmt: str) -> None:
    if h % multiple or w % multiple:
        raise UserError(f"--size {h}x{w}: height and width must be multiples of {multiple} for this model")
    if fmt != "rgb" and (h % 2 or w % 2):
        raise UserError(f"--size {h}x{w}: YUV 4:2:0 needs even sizes")


def export_model(model, to: str, path, input_format: str = "rgb", rng: str = "video",
                 size: Optional[Tuple[int, int]] = None, opset: int = 18, nhwc: bool = False) -> dict:
    """Export a student; returns where it went, its I/O and the measured max abs difference vs ORT."""
    from ..shrink.from_onnx import load_info, torch_from_onnx
    if to not in TARGETS:
        raise UserError(f"--to must be one of {', '.join(TARGETS)}, got {to!r}")
    info = load_info(model)
    path = Path(path).expanduser()
    if path.suffix.lower() != SUFFIX[to]:
        raise UserError(f"-o {path}: --to {to} writes a {SUFFIX[to]} file; name the output *{SUFFIX[to]}")
    check_output(path, [info.path], folder_ok=to == "coreml")
    if to in ("tflite", "coreml") and not size:
        raise UserError(f"--to {to} needs a fixed input size: add --size HxW (e.g. --size 480x640)")
    if not 7 <= opset <= 21:
        raise UserError(f"--opset must be between 7 and 21, got {opset}")
    m = info.multiple
    if size:
        _check_size(size[0], size[1], m, input_format)
    net, _ = torch_from_onnx(info)
    if to == "tflite":
        from .tflite import require
        require()
    if to == "coreml":
        from .coreml import require
        require()
    module = yuv.wrap(net, input_format, rng, nhwc, hw=size)
    name = yuv.input_name(input_format)
    h, w = size or (30 * m // 2 * 2 if m % 2 else 30 * m, 40 * m)
    img = photo(h, w)
    x = _layout(img, input_format, rng, nhwc)
    result = {"format": to, "path": str(path), "source": info.name, "input_format": input_format,
              "range": rng if input_format != "rgb" else None, "layout": _layout_doc(input_format, nhwc),
              "size": list(size) if size else "dynamic"}
    if to == "coreml":
        from .coreml import to_coreml
        if x.dtype == np.uint8:  # Core ML has no uint8 tensor inputs: the YUV bytes arrive as float32 0..255
            x = x.astype(np.float32)
            result["layout"] = result["layout"].replace("uint8", "float32 (byte values 0..255)")
        result["coreml"] = to_coreml(module, x, path, name)
        result["size_bytes"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        return result
    if to == "onnx":
        torch_to_onnx(module, x, path, name, dynamic=size is None, opset=opset, nhwc=nhwc)
        result["opset"] = opset
    else:
        from .tflite import describe, to_tflite
        to_tflite(module, x, path)
        result["tflite"] = describe(path)
    result["size_bytes"] = path.stat().st_size
    sizes = [(h, w)] if size else [(h, w), (6 * m, 10 * m)]
    checks = []
    for (hh, ww) in sizes:
        im = photo(hh, ww)
        xx = _layout(im, input_format, rng, nhwc)
        got = run_exported(to, path, xx, name)
        if nhwc:
            got = got.transpose(0, 3, 1, 2)
        rgb_in = im if input_format == "rgb" else yuv.reference_rgb(xx, input_format, rng)
        ref = reference(info, rgb_in)
        checks.append({"size": [hh, ww], "max_abs_vs_ort": float(np.abs(got - ref).max()),
                       "mean_abs_vs_ort": float(np.abs(got - ref).mean())})
    result["checks"] = checks
    result["max_abs_vs_ort"] = max(c["max_abs_vs_ort"] for c in checks)
    return result


def _layout(img: np.ndarray, fmt: str, rng: str, nhwc: bool) -> np.ndarray:
    if fmt == "rgb":
        return yuv.sample_input("rgb", *img.shape[:2], nhwc=nhwc, img=img)
    return yuv.rgb_to_yuv420(img, fmt, rng)


def _layout_doc(fmt: str, nhwc: bool) -> str:
    out = "output [1,H,W,3]" if nhwc else "output [1,3,H,W]"
    if fmt == "rgb":
        return ("input [1,H,W,3]" if nhwc else "input [1,3,H,W]") + " float32 RGB 0..1; " + out + " float32 0..1"
    return f"yuv uint8 [H*3/2, W] {fmt.upper()} (Y plane then " + \
        ("interleaved UV" if fmt == "nv12" else "U plane, V plane") + f"); {out} float32 RGB 0..1"
