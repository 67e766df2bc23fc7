"""One style of a conditional real-time student as a fixed int8 graph, made once per style and cached.

Two conditional students ship as float ONNX files whose style parts are cheap functions of the style, folded
here (numpy, exact) into conv weights and biases and the live norms' scale/shift:
- `multi26` (`nets.multi.MultiRT`): `input` and `style_weights` [26]; per-style tables, linear in the weights;
- `arbitrary` (`nets.mgnet` `cond-mg`): `input` and `style` [100], a Magenta style vector; the body's norms stay
  live, the up-path's (the costly ones: each channel's 4-16 phase-channels) are folded at that style's statistics
  measured on the calibration photos (`head_statistics`).
For one style the result is a fixed graph of the same shape as the other real-time students. `specialised`
quantises it (static int8 QDQ with byte-exact ends, ranges from a quick calibration on offline photos) and caches
the file under FRAMESTYLE_HOME/cache/specialised keyed by (model file hash, style); the Stylizer (and the
arbitrary-style backend) runs it on the byte path.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

S = 26
CALIB_IMAGES = 4  # calibration photos per style: fewer is a faster style change (docs/multi.md)
# (prefix of the conv weight, prefix of its StyleNorm, stride, pad, normalised?) in MultiRT order with its default
# arch (body="fold", pad="zero"); see nets/multi.py and `multi_layers` for the others
LAYERS = ([("stem.0", "stem_norm.0", 1, 1, False), ("stem.1", "stem_norm.1", 2, 1, False),
           ("stem.2", "stem_norm.2", 1, 1, True)]
          + [(f"res.{b}.{j}", f"res.{b}.{j + 1}", 1, 1, j == 0) for b in range(6) for j in (0, 2)]
          + [(f"head.{i}", f"head_norm.{i}", 1, 1, False) for i in range(3)])


def onnx_weights(path) -> dict:
    """The conditional model's initializers by name (Identity aliases of shared tensors resolved)."""
    import onnx
    from ..zoo.onnx_surgery import named_weights
    return named_weights(onnx.load(str(path)).graph)


def fixed_graph(w: dict, style, images=None, arch=None):
    """The float ONNX model (input [1,3,H,W] 0..1 -> same shape) of a conditional student at one style: `multi26`
    (MultiRT, style = 26 weights, `arch` its card's arch_kwargs) or a `cond-mg` (style = a Magenta vector [100],
    its up-path's norms folded at their statistics on `images`, default the calibration photos), told apart by its
    weights."""
    if "res.0.1.scale.weight" not in w:
        return graph_of(multi_layers(w, style, arch))
    return graph_of(mg_layers(w, style, head_statistics(w, style, images or _calibration())))


def multi_layers(w: dict, sw, arch=None) -> list:
    """MultiRT at style weights `sw` [26] as `graph_of` layers; `arch`: its arch_kwargs (body fold|live: is each
    block's second norm live; pad zero|reflect: the body convs' padding; stem fold|live: its first two norms)."""
    arch = dict(arch or {})
    live2, reflect = arch.get("body", "fold") == "live", arch.get("pad", "zero") == "reflect"
    live_stem = arch.get("stem", "fold") == "live"  # the stem's first two norms live
    sw = np.asarray(sw, np.float32).reshape(S)
    out = [dict(w=w["s2d.weight"], b=None, stride=2, pad=0)]
    for i, (cw, nw, stride, pad, normed) in enumerate(LAYERS):
        body, first = 3 <= i < 15, (i - 3) % 2 == 0
        normed = normed or (body and live2) or (i < 2 and live_stem)
        g, b = sw @ w[nw + ".gamma"], sw @ w[nw + ".beta"]
        if normed:  # the instance norm at this style's gamma/beta
            layer = dict(w=w[cw + ".weight"], b=None, norm=(g, b))
        else:  # a folded norm: a(s) * conv(x) + b(s) is a conv with scaled weights and a bias
            layer = dict(w=w[cw + ".weight"] * g[:, None, None, None], b=b)
        out.append(dict(layer, stride=stride, pad=pad, act="relu" if i < 17 else "sigmoid",
                        res=("in" if first else "add") if body else None, reflect=body and reflect))
        if body and not first:
            out[-1]["act"] = None
    return out


def mg_layers(w: dict, vec, head_stats=None) -> list:
    """A `cond-mg` (nets/mgnet.py, phase stem) at Magenta style vector `vec`: the body's norms live (instance
    norms at the style's scale/shift); the up-path's norms folded into their convs at `head_stats` [(mean, var)
    per channel] or, without them, live group norms that `head_statistics` measures."""
    v = np.asarray(vec, np.float32).reshape(100)
    if "stem.1.weight" not in w or w["stem.1.weight"].shape[1] != 12:
        raise ValueError("specialise: a cond-mg with the phase stem (train-arbitrary --arch-arg stem=phase)")

    def affine(prefix):  # StyleNorm scale/shift at v
        return (w[prefix + ".scale.weight"] @ v + w[prefix + ".scale.bias"],
                w[prefix + ".shift.weight"] @ v + w[prefix + ".shift.bias"])

    out = [dict(w=w["stem.0.weight"], b=None, stride=2, pad=0)]
    for j, stride in ((1, 1), (3, 1), (5, 2)):
        k = w[f"stem.{j}.weight"].shape[-1]
        out.append(dict(w=w[f"stem.{j}.weight"], b=w[f"stem.{j}.bias"], stride=stride, pad=k // 2, act="relu"))
    blocks = len({k.split(".")[1] for k in w if k.startswith("res.")})
    for i in range(blocks):
        out.append(dict(w=w[f"res.{i}.0.weight"], b=w[f"res.{i}.0.bias"], norm=affine(f"res.{i}.1"), stride=1,
                        pad=1, act="relu", res="in"))
        out.append(dict(w=w[f"res.{i}.2.weight"], b=w[f"res.{i}.2.bias"], norm=affine(f"res.{i}.3"), stride=1,
                        pad=1, res="add"))
    for i in range(3):
        cw = w[f"head.{i}.weight"]
        g, b = affine(f"head_norm.{i}")
        rep = len(cw) // len(g)
        layer = dict(stride=1, pad=cw.shape[-1] // 2, act="relu" if i < 2 else "sigmoid")
        if head_stats is None:  # live: a group norm over each channel's phases, its input tapped
            out.append(dict(layer, w=cw, b=None, group=(len(g), np.repeat(g, rep), np.repeat(b, rep)), tap=f"h{i}"))
        else:  # folded at this style's statistics: x * a + c
            mu, var = head_stats[i]
            a = g / np.sqrt(var + 1e-5)
            out.append(dict(layer, w=cw * np.repeat(a, rep)[:, None, None, None], b=np.repeat(b - a * mu, rep)))
    return out


def head_statistics(w: dict, vec, images) -> list:
    """Each up-path norm's input statistics at style `vec`: per channel (pooled over its phases) mean and
    variance, averaged over `images` (uint8 HxWx3), measured by ONNX Runtime on the live graph."""
    import onnxruntime as ort
    m = graph_of(mg_layers(w, vec))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    acc = None
    for img in images:
        x = np.ascontiguousarray(img[: img.shape[0] // 4 * 4, : img.shape[1] // 4 * 4].transpose(2, 0, 1)[None],
                                 np.float32) / 255
        taps = sess.run([f"h{i}" for i in range(3)], {"input": x})
        st = []
        for i, t in enumerate(taps):
            ch = len(w[f"head_norm.{i}.scale.bias"])
            z = t.reshape(ch, -1).astype(np.float64)
            st.append((z.mean(1), z.var(1)))
        acc = st if acc is None else [(a[0] + s[0], a[1] + s[1]) for a, s in zip(acc, st)]
    return [(mu / len(images), var / len(images)) for mu, var in acc]


def graph_of(layers: list):
    """A fixed-style ONNX graph from conv layers: dict(w, b, stride, pad, norm=(scale, shift) for an instance
    norm after the conv, group=(channels, scale, shift) for one over each channel's phase-channels whose input is
    also output as `tap`, act relu|sigmoid, res "in" (a residual block starts at this layer's input) | "add" (this
    layer's output is added to it), reflect: pad the conv's input by reflection, pads: the conv's own [top, left,
    bottom, right] padding instead of `pad` on each side). The last layer's sigmoid is followed by the 4x pixel
    shuffle."""
    from onnx import TensorProto, helper, numpy_helper
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name))
        return name

    def const_i(name, values):
        inits.append(numpy_helper.from_array(np.asarray(values, np.int64), name))
        return name

    def op(kind, ins, out, **kw):
        nodes.append(helper.make_node(kind, ins, [out], name=out + "_" + kind, **kw))
        return out

    y, block_in, taps = "input", None, []
    for i, L in enumerate(layers):
        k = L["w"].shape[-1]
        if L.get("res") == "in":
            block_in = y
        pad = L["pad"]
        if L.get("reflect") and pad:  # reflect padding (as the teacher): a Pad before the unpadded conv
            y, pad = op("Pad", [y, const_i(f"pads{i}", [0, 0, pad, pad, 0, 0, pad, pad])], f"p{i}", mode="reflect"), 0
        ins = [y, const(f"c{i}.w", L["w"])] + ([const(f"c{i}.b", L["b"])] if L["b"] is not None else [])
        t = op("Conv", ins, "s2d" if i == 0 else f"c{i}", kernel_shape=[k, k], strides=[L["stride"]] * 2,
               pads=list(L.get("pads") or [pad] * 4))
        if L.get("norm") is not None:
            g, b = L["norm"]
            t = op("InstanceNormalization", [t, const(f"n{i}.g", g), const(f"n{i}.b", b)], f"n{i}", epsilon=1e-5)
        if L.get("group") is not None:  # an instance norm over each channel's phase-channels (for measuring)
            ch, g, b = L["group"]
            taps.append(op("Identity", [t], L["tap"]))
            flat = op("Reshape", [t, const_i(f"gs{i}", [0, ch, -1])], f"gr{i}")
            flat = op("InstanceNormalization", [flat, const(f"gg{i}", np.ones(ch)), const(f"gb{i}", np.zeros(ch))],
                      f"gn{i}", epsilon=1e-5)
            t = op("Reshape", [flat, op("Shape", [t], f"gsh{i}")], f"gu{i}")
            t = op("Add", [op("Mul", [t, const(f"gm{i}", g.reshape(1, -1, 1, 1))], f"gmul{i}"),
                           const(f"ga{i}", b.reshape(1, -1, 1, 1))], f"gadd{i}")
        if L.get("res") == "add":
            t = op("Add", [block_in, t], f"a{i}")
        if L.get("act") == "relu":
            t = op("Relu", [t], f"r{i}")
        elif L.get("act") == "sigmoid":  # sigmoid before the pixel shuffle: the int8 graph ends in byte-exact codes
            t = op("DepthToSpace", [op("Sigmoid", [t], "sig")], "output", blocksize=4, mode="CRD")
        y = t
    graph = helper.make_graph(nodes, "rt_fixed",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "height", "width"])]
                              + [helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in taps], inits)
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
    """The cached fixed (int8 unless `int8=False`) graph of the model at `path` for its style `sw` (multi26: 26
    style weights; an any-painting cond-mg student: a Magenta style vector)."""
    import onnx
    from ..imageio import atomic_write_bytes
    from ..paths import cache_dir
    out = cache_dir() / "specialised" / f"{style_key(path, sw)}{'-int8' if int8 else ''}.onnx"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        m = fixed_graph(onnx_weights(path), sw, arch=_arch_kwargs(path))
    except (ValueError, KeyError) as exc:  # a card that says "specialise" on a model this cannot fold
        from ..errors import UserError
        raise UserError(f"{Path(path).name}: its card asks for one fixed graph per style, but this model cannot "
                        f"be specialised ({str(exc)[:160]})") from None
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


def _arch_kwargs(path) -> dict:
    """The arch_kwargs on the model's card (none: the arch's defaults)."""
    from ..zoo.card import load_card
    return dict(load_card(Path(path)).get("arch_kwargs") or {})


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
    return specialised(info.path, vec)
