"""One style of a conditional real-time student as a fixed int8 graph, made once per style and cached.

The shipped multi-style student (`nets.multi.MultiRT`, e.g. `multi26`) is a float ONNX file taking `input` and
`style_weights` [26]. Its style parts are per-style tables, linear in the style weights: folded norms
(a(s) * conv(x) + b(s)) and the gamma/beta of its instance norms. For one style vector they are constants, so
`fixed_graph` folds them into the conv weights and biases and the norms' scale/shift (numpy, exact): a fixed
graph of the same shape as the other real-time students. `specialised` quantises it (static int8 QDQ with
byte-exact ends, ranges from a quick calibration on offline photos) and caches the file under
FRAMESTYLE_HOME/cache/specialised keyed by (model file hash, style weights); the Stylizer runs it on the byte path.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

S = 26
CALIB_IMAGES = 4  # calibration photos per style: fewer is a faster style change (docs/multi.md)
# (prefix of the conv weight, prefix of its StyleNorm, stride, pad, normalised?) in MultiRT order; see nets/multi.py
LAYERS = ([("stem.0", "stem_norm.0", 1, 1, False), ("stem.1", "stem_norm.1", 2, 1, False),
           ("stem.2", "stem_norm.2", 1, 1, True)]
          + [(f"res.{b}.{j}", f"res.{b}.{j + 1}", 1, 1, j == 0) for b in range(6) for j in (0, 2)]
          + [(f"head.{i}", f"head_norm.{i}", 1, 1, False) for i in range(3)])


def onnx_weights(path) -> dict:
    """The conditional model's initializers by name (Identity aliases of shared tensors resolved)."""
    import onnx
    from ..zoo.onnx_surgery import named_weights
    return named_weights(onnx.load(str(path)).graph)


def fixed_graph(w: dict, sw: np.ndarray):
    """The float ONNX model (input [1,3,H,W] 0..1 -> same shape) of the conditional student at style weights `sw`."""
    from onnx import TensorProto, helper, numpy_helper
    sw = np.asarray(sw, np.float32).reshape(S)
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name))
        return name

    def conv(x, name, weight, bias, stride, pad):
        k = weight.shape[-1]
        ins = [x, const(name + ".w", weight)] + ([const(name + ".b", bias)] if bias is not None else [])
        nodes.append(helper.make_node("Conv", ins, [name], name=name, kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[pad] * 4))
        return name

    def op(kind, ins, out, **kw):
        nodes.append(helper.make_node(kind, ins, [out], name=out + "_" + kind, **kw))
        return out

    y = conv("input", "s2d", w["s2d.weight"], None, 2, 0)
    block_in = None
    for i, (cw, nw, stride, pad, normed) in enumerate(LAYERS):
        g, b = sw @ w[nw + ".gamma"], sw @ w[nw + ".beta"]
        if normed:  # the instance norm at this style's gamma/beta
            t = conv(y, f"c{i}", w[cw + ".weight"], None, stride, pad)
            t = op("InstanceNormalization", [t, const(f"n{i}.g", g), const(f"n{i}.b", b)], f"n{i}", epsilon=1e-5)
        else:  # a folded norm: a(s) * conv(x) + b(s) is a conv with scaled weights and a bias
            t = conv(y, f"c{i}", w[cw + ".weight"] * g[:, None, None, None], b, stride, pad)
        body, first = 3 <= i < 15, (i - 3) % 2 == 0
        if body and first:
            block_in = y
        if body and not first:
            t = op("Add", [block_in, t], f"a{i}")
        elif i < 17:
            t = op("Relu", [t], f"r{i}")
        else:  # sigmoid before the pixel shuffle: the int8 graph ends in byte-exact codes
            t = op("DepthToSpace", [op("Sigmoid", [t], "sig")], "output", blocksize=4, mode="CRD")
        y = t
    graph = helper.make_graph(nodes, "multi_rt_fixed",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "height", "width"])],
                              inits)
    m = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 17)])
    m.ir_version = 8
    return m


def style_key(path, sw) -> str:
    h = hashlib.sha256(Path(path).read_bytes())
    h.update(np.round(np.asarray(sw, np.float64).reshape(-1), 5).tobytes())
    return h.hexdigest()[:20]


_CALIB = []


def _calibration():
    """A few offline photos (256 px squares) for the int8 ranges, loaded once per process."""
    if not _CALIB:
        from ..shrink.quantize import calibration_images
        _CALIB.extend(calibration_images(limit=CALIB_IMAGES))
    return _CALIB


def specialised(path, sw, int8: bool = True) -> Path:
    """The cached fixed (int8 unless `int8=False`) graph of the model at `path` for style weights `sw`."""
    import onnx
    from ..imageio import atomic_write_bytes
    from ..paths import cache_dir
    out = cache_dir() / "specialised" / f"{style_key(path, sw)}{'-int8' if int8 else ''}.onnx"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    m = fixed_graph(onnx_weights(path), sw)
    float_path = out.with_name(out.stem.replace("-int8", "") + "-float.onnx")
    atomic_write_bytes(float_path, m.SerializeToString())
    if not int8:
        return float_path
    from ..shrink.quantize import quantize_file
    import contextlib
    import io
    with contextlib.redirect_stderr(io.StringIO()):  # ORT's calibration progress: not for a stylise run's user
        quantize_file(float_path, out, "int8", calib=_calibration(), multiple=4)
    float_path.unlink(missing_ok=True)
    onnx.checker.check_model(str(out))
    return out


def specialisable(info) -> bool:
    """A conditional student whose card says each style runs as its own fixed graph (`"specialise": true`)."""
    return info.kind in ("multi", "arbitrary") and bool(info.card.get("specialise"))


def for_model(info, style=None, style_vector=None) -> Path:
    """The cached fixed int8 graph of a specialisable model (`info`, a zoo ModelInfo) for one style: `style` for a
    multi-style card (an index or a blend, zoo.teachers.parse_style; default the entry's own style), or
    `style_vector` (the 100 Magenta numbers of a painting) for an any-painting card. UserError otherwise."""
    from ..errors import UserError
    if not specialisable(info):
        raise UserError(f"model {info.name!r} is not specialisable (only conditional students whose card has "
                        "\"specialise\": true run one style as a fixed graph)")
    if info.kind == "multi":
        from ..zoo.teachers import parse_style
        if style_vector is not None:
            raise UserError(f"model {info.name!r} takes a style index or blend, not a style image")
        sw = parse_style(style if style is not None else info.style, int(info.card.get("styles") or S))
        return specialised(info.path, sw)
    if style_vector is None:
        raise UserError(f"model {info.name!r} paints any style: give a style image")
    vec = np.asarray(style_vector, np.float32).reshape(-1)
    if vec.shape != (100,) or not np.isfinite(vec).all():
        raise UserError(f"a style vector has 100 finite numbers, got {vec.size}")
    raise UserError(f"model {info.name!r} is not specialisable yet")  # lead: return specialised_vector(info.path, vec)
