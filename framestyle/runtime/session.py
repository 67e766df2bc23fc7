"""ONNX Runtime sessions with clear errors for bad model files."""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Optional

from ..errors import UserError


def default_threads() -> int:
    env = os.environ.get("FRAMESTYLE_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


def _model_file(path) -> Path:
    """The model file as a Path; UserError when it is missing or empty."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"model file not found: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty model file (0 bytes)")
    return path


_SPIN = [True]


@contextlib.contextmanager
def no_spinning():
    """Sessions opened inside wait for work without spinning: when other threads need the cores (the live
    pipeline's stabiliser), ORT's spinning workers would take their time (docs/live.md)."""
    before, _SPIN[0] = _SPIN[0], False
    try:
        yield
    finally:
        _SPIN[0] = before


def make_session(path, threads: Optional[int] = None, model_bytes: Optional[bytes] = None):
    """An ORT session for `path` (or for `model_bytes`, a rewritten version of it; errors still name `path`)."""
    import onnxruntime as ort
    path = _model_file(path)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not _SPIN[0]:  # see no_spinning
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model_bytes or str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises several private exception types
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a valid ONNX model ({msg[:200]})") from None


def _dims(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _fits(dim, want) -> bool:
    return not isinstance(dim, int) or dim == want


def check_model(sess, path, run: bool = False) -> None:
    """The one model check on load: an image input [1,3,H,W] float (plus the known extra inputs: a style-weights
    or style vector, at most 2-D) and a first output of the same image shape. `run` also tries one small frame.
    UserError naming what is wrong, before any work."""
    ins, outs = sess.get_inputs(), sess.get_outputs()
    got = ", ".join(f"{i.name} {i.type} {_dims(i.shape)}" for i in ins) or "none"
    x = ins[0] if ins else None
    if (x is None or x.type != "tensor(float)" or len(x.shape) != 4 or not _fits(x.shape[0], 1)
            or not _fits(x.shape[1], 3)):
        raise UserError(f"{path}: not a style model: expected an image input float [1,3,H,W], got {got}")
    bad = [i for i in ins[1:] if len(i.shape) > 2 or i.type != "tensor(float)"]
    if bad:
        raise UserError(f"{path}: unexpected extra input {bad[0].name} {bad[0].type} {_dims(bad[0].shape)}; "
                        "only a style-weights or style vector may come with the image")
    y = outs[0] if outs else None
    if (y is None or len(y.shape) != 4 or not _fits(y.shape[0], 1) or not _fits(y.shape[1], 3)
            or any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(x.shape[2:], y.shape[2:]))):
        shown = f"{y.type} {_dims(y.shape)}" if y is not None else "none"
        raise UserError(f"{path}: not a style model: its output must be an image of the input's shape "
                        f"[1,3,H,W], got {shown}")
    if run:
        import numpy as np
        h, w = (d if isinstance(d, int) else 64 for d in x.shape[2:])
        feeds = {x.name: np.full((1, 3, h, w), 0.5, np.float32)}
        for i in ins[1:]:
            feeds[i.name] = np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
        try:
            out = sess.run([y.name], feeds)[0]
        except Exception as exc:  # ORT's own exception types
            raise UserError(f"{path}: the model fails on a {w}x{h} test frame ({str(exc).splitlines()[0][:160]})") \
                from None
        if out.shape != (1, 3, h, w):
            raise UserError(f"{path}: not a style model: a {w}x{h} frame gave an output of shape "
                            f"{list(out.shape)}, not [1,3,{h},{w}]")


def check_graph(path) -> None:
    """`check_model` on the graph's declared inputs and outputs, without opening a session (the Stylizer's one
    session may be the uint8 form of the graph)."""
    from types import SimpleNamespace

    import onnx
    path = _model_file(path)
    try:
        g = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # protobuf's own errors
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a valid ONNX model ({msg[:200]})") from None
    types = {1: "tensor(float)", 2: "tensor(uint8)", 10: "tensor(float16)", 7: "tensor(int64)"}
    inits = {i.name for i in g.initializer}

    def info(v):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]
        return SimpleNamespace(name=v.name, type=types.get(t.elem_type, f"tensor({t.elem_type})"), shape=dims)
    ins = [info(v) for v in g.input if v.name not in inits]
    outs = [info(v) for v in g.output]
    check_model(SimpleNamespace(get_inputs=lambda: ins, get_outputs=lambda: outs), path)


def check_onnx(path) -> None:
    """Raise UserError unless the file loads and passes `check_model` (including one small test frame)."""
    check_model(make_session(path, threads=1), path, run=True)


U8_IN, U8_OUT = "fs_frame", "fs_stylized"
_WARNED = set()


def warn_slow_path(path, why: str) -> None:
    """One warning per model file when it cannot take the fast uint8 path (it still runs, more slowly)."""
    key = str(Path(path).resolve())
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(f"{Path(path).name}: slower path, {why}", RuntimeWarning, stacklevel=3)


def uint8_graph(path, int8_norms: Optional[bool] = None) -> bytes:
    """The model wrapped to take and return uint8 HxWx3 RGB frames (U8_IN -> U8_OUT).

    int8_norms: compute an int8 graph's per-frame instance norms in int8 (`qnorm.rewrite_norms`); default on
    unless FRAMESTYLE_INT8_NORMS=0.

    Layout conversion, scaling, rounding and clipping then run inside ONNX Runtime, fused and threaded,
    instead of as several numpy passes per frame. Extra inputs (e.g. style_weights) are kept.
    """
    import onnx
    from onnx import TensorProto, helper
    m = onnx.load(str(path))
    g = m.graph
    x_name, y_name = g.input[0].name, g.output[0].name
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        raise ValueError("opset < 13")
    import copy
    from . import qnorm
    from .u8ends import rewrite
    norms = qnorm.enabled() if int8_norms is None else int8_norms
    exact = copy.deepcopy(m)
    try:
        if rewrite(exact, U8_IN, U8_OUT):  # an int8 graph with exact 8-bit ends: bytes in, bytes out
            if norms:  # after the ends: the first norm's conv may read the input's own dequantisation
                qnorm.rewrite_norms(exact)
            return exact.SerializeToString()
    except Exception as exc:  # an unexpected graph shape: the conversion wrapper below still works
        warn_slow_path(path, f"its int8 ends are converted, not passed as bytes ({str(exc)[:160]})")
    if norms:
        qnorm.rewrite_norms(m)

    def const(name, value, dtype=TensorProto.FLOAT, dims=()):
        return helper.make_tensor(name, dtype, dims, [value] if not dims else value)

    g.initializer.extend([const("fs_inv255", 1 / 255), const("fs_255", 255.0), const("fs_half", 0.5),
                          const("fs_zero", 0.0), const("fs_axes0", [0], TensorProto.INT64, [1])])
    pre = [helper.make_node("Cast", [U8_IN], ["fs_f"], to=TensorProto.FLOAT),
           helper.make_node("Mul", ["fs_f", "fs_inv255"], ["fs_f01"]),
           helper.make_node("Transpose", ["fs_f01"], ["fs_chw"], perm=[2, 0, 1]),
           helper.make_node("Unsqueeze", ["fs_chw", "fs_axes0"], [x_name])]
    post = [helper.make_node("Squeeze", [y_name, "fs_axes0"], ["fs_ochw"]),
            helper.make_node("Transpose", ["fs_ochw"], ["fs_ohwc"], perm=[1, 2, 0]),
            helper.make_node("Mul", ["fs_ohwc", "fs_255"], ["fs_o255"]),
            helper.make_node("Add", ["fs_o255", "fs_half"], ["fs_orounded"]),
            helper.make_node("Clip", ["fs_orounded", "fs_zero", "fs_255"], ["fs_oclip"]),
            helper.make_node("Cast", ["fs_oclip"], [U8_OUT], to=TensorProto.UINT8)]
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    extra = list(g.input[1:])
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info(U8_IN, TensorProto.UINT8, ["height", "width", 3])] + extra)
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info(U8_OUT, TensorProto.UINT8, ["height", "width", 3])])
    return m.SerializeToString()


def open_frames_session(path, threads: Optional[int] = None):
    """-> (session, u8, input name, output name): the uint8-in/out graph of the model when it allows it (the fast
    path), else the model as it is (frames converted in numpy; said once in a warning)."""
    try:
        wrapped, why = uint8_graph(path), None
    except Exception as exc:  # unreadable or unusual graph: make_session below names a bad file
        wrapped, why = None, exc
    if wrapped is not None:
        try:
            return make_session(path, threads, wrapped), True, U8_IN, U8_OUT
        except UserError as exc:
            why = exc
    sess = make_session(path, threads)
    warn_slow_path(path, f"the uint8 graph did not load ({str(why)[:160]})")
    return sess, False, sess.get_inputs()[0].name, sess.get_outputs()[0].name
