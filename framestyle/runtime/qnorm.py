"""Per-frame instance norms of an int8 graph, kept in int8.

In a static int8 graph every live instance norm leaves the int8 path: dequantize, the float norm, quantize, and
ONNX Runtime's NHWC/NCHW transposes around it (about a quarter of `starry`'s frame at 720p, docs/students.md).
`rewrite_norms` replaces each `Conv -> Q -> DQ -> InstanceNormalization [-> Relu] -> Q` by:

- statistics: the same conv at `stride` x its stride (an exact subsample of its output: 1/stride^2 of its cost),
  mean and variance per channel of those uint8 codes (small float ops);
- the conv itself with its weight scale multiplied per frame by |gamma| / sd: its output is the normalised
  tensor times gamma, before the mean shift, quantised at a per-frame range (mean +- `k` |gamma| per channel);
  its constant bias is kept, so ONNX Runtime's fused int8 kernel still runs it (a per-frame bias would not);
- the per-channel shift beta - gamma * (mu - bias) / sd added in int8 (QLinearAdd over a row-broadcast shift),
  quantised into the norm's output codes: with zero point 0 that clamp is the ReLU.

Statistics from a 1/stride^2 subsample and the per-frame range change outputs slightly (measured in
docs/students.md); `FRAMESTYLE_INT8_NORMS=0` turns the rewrite off (A/B runs).
"""
from __future__ import annotations

import os

import numpy as np

STRIDE, K = 2, 4.0


def enabled() -> bool:
    return os.environ.get("FRAMESTYLE_INT8_NORMS", "1") != "0"


def rewrite_norms(m, stride: int = STRIDE, k: float = K) -> int:
    """Rewrite the model (in place); returns how many norms were rewritten."""
    from onnx import helper, numpy_helper
    from ..zoo.onnx_surgery import links
    g = m.graph
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    init = {i.name: i for i in g.initializer}
    consumers, producer = links(g)
    users = lambda name: consumers.get(name, [])
    arr = lambda name: numpy_helper.to_array(init[name])
    drop, rep = set(), {}
    for n in list(g.node):
        found = _match(n, producer, users, init, arr)
        if found is None:
            continue
        conv, q1, dq, relu, q, dqx, dqw, dqb, bias = found
        p = f"fs_qn{len(rep)}_"
        nodes, consts = _norm_nodes(p, n, conv, q1, q, dqx, dqw, bias, arr, opset, stride, k)
        g.initializer.extend(numpy_helper.from_array(np.asarray(v), p + name) for name, v in consts.items())
        rep[id(q)] = nodes
        gone = [conv, q1, dq, n, q] + ([relu] if relu is not None else [])
        gone += [x for x in (dqx, dqw, dqb) if x is not None and len(users(x.output[0])) == 1]
        drop.update(id(x) for x in gone)
    if not rep:
        return 0
    out = []
    for n in g.node:
        if id(n) in rep:
            out.extend(rep[id(n)])
        elif id(n) not in drop:
            out.append(n)
    del g.node[:]
    g.node.extend(out)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return len(rep)


def _match(n, producer, users, init, arr):
    """The nodes around an instance norm this rewrite handles, or None."""
    if n.op_type != "InstanceNormalization" or n.input[1] not in init or n.input[2] not in init:
        return None
    dq = producer.get(n.input[0])
    q1 = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
    conv = producer.get(q1.input[0]) if q1 is not None and q1.op_type == "QuantizeLinear" else None
    if conv is None or conv.op_type != "Conv" or any(len(users(x.output[0])) != 1 for x in (conv, q1, dq)):
        return None
    if any((a.name == "group" and a.i != 1) or (a.name == "auto_pad" and a.s not in (b"", b"NOTSET"))
           for a in conv.attribute):  # grouped, or padding that a doubled stride would change
        return None
    dqx, dqw = producer.get(conv.input[0]), producer.get(conv.input[1])
    if dqx is None or dqw is None or dqx.op_type != dqw.op_type or dqx.op_type != "DequantizeLinear" \
            or dqw.input[0] not in init or arr(dqw.input[0]).dtype != np.int8 or len(dqx.input) < 3:
        return None
    if len(dqw.input) > 2 and np.any(arr(dqw.input[2]) != 0):
        return None
    nxt, relu = users(n.output[0]), None
    if len(nxt) == 1 and nxt[0].op_type == "Relu":
        relu, nxt = nxt[0], users(nxt[0].output[0])
    if len(nxt) != 1 or nxt[0].op_type != "QuantizeLinear" or len(nxt[0].input) < 3:
        return None
    q = nxt[0]
    if relu is not None and int(arr(q.input[2])) != 0:  # the ReLU is the clamp at a zero point of 0
        return None
    cout = arr(dqw.input[0]).shape[0]
    bias, dqb = np.zeros(cout, np.float32), None
    if len(conv.input) > 2 and conv.input[2]:
        if conv.input[2] in init:
            bias = arr(conv.input[2]).astype(np.float32)
        else:
            dqb = producer.get(conv.input[2])
            if dqb is None or dqb.op_type != "DequantizeLinear" or dqb.input[0] not in init:
                return None
            zb = arr(dqb.input[2]).astype(np.float64) if len(dqb.input) > 2 else 0.0
            bias = ((arr(dqb.input[0]).astype(np.float64) - zb) * arr(dqb.input[1])).astype(np.float32)
    return conv, q1, dq, relu, q, dqx, dqw, dqb, bias.reshape(-1)


def _norm_nodes(p, norm, conv, q1, q, dqx, dqw, bias, arr, opset, stride, k):
    from onnx import TensorProto, helper
    t = lambda s: p + s
    wq = arr(dqw.input[0])
    cout = wq.shape[0]
    ws = np.broadcast_to(arr(dqw.input[1]).astype(np.float32).reshape(-1), (cout,)).copy()
    gamma, beta = arr(norm.input[1]).astype(np.float32), arr(norm.input[2]).astype(np.float32)
    eps = next((a.f for a in norm.attribute if a.name == "epsilon"), 1e-5)
    sx = float(arr(dqx.input[1]))
    s1, z1 = float(arr(q1.input[1])), float(arr(q1.input[2]))
    sign = np.where(gamma < 0, -1, 1).reshape(-1, *([1] * (wq.ndim - 1)))
    consts = {
        "w": wq, "w_signed": (wq.astype(np.int32) * sign).clip(-127, 127).astype(np.int8),
        "wz": np.zeros(cout, np.int8), "ws": ws, "b_int": np.round(bias / (sx * ws)).astype(np.int32),
        "axes": np.array([0, 2, 3], np.int64), "z1": np.array(z1, np.float32), "s1": np.array(s1, np.float32),
        "s1sq": np.array(s1 * s1, np.float32), "eps": np.array(eps, np.float32), "absg": np.abs(gamma),
        "gamma": gamma, "beta": beta, "bias": bias, "span": (np.abs(gamma) * k).astype(np.float32),
        "tiny": np.array(1e-12, np.float32), "zero": np.array(0, np.float32), "c255": np.array(255, np.float32),
        "c127": np.array(127, np.float32), "c128": np.array(128, np.float32), "z128": np.array(128, np.uint8),
        "shape4": np.array([1, 1, 1, cout], np.int64), "one2": np.array([1, 1], np.int64),
        "cout": np.array([cout], np.int64),
    }
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    sub_attrs = {**attrs, "strides": [s * stride for s in attrs.get("strides", [1, 1])]}
    x = list(dqx.input[:3])

    def op(kind, ins, out, **kw):
        return helper.make_node(kind, [i if i.startswith(p) or i in x else t(i) for i in ins], [t(out)], **kw)

    def reduce(kind, i, o):
        if opset >= 18:
            return helper.make_node(kind, [i, t("axes")], [o], keepdims=0)
        return helper.make_node(kind, [i], [o], axes=[0, 2, 3], keepdims=0)

    mean = lambda i, o: reduce("ReduceMean", i, o)
    # 1 / (number of sampled pixels), from the subsample's shape
    count = [helper.make_node("Shape", [t("f")], [t("fshape")], start=2),
             op("ReduceProd", ["fshape"], "npix", keepdims=0), op("Cast", ["npix"], "nf", to=TensorProto.FLOAT),
             op("Reciprocal", ["nf"], "inv_n")]

    nodes = [
        helper.make_node("QLinearConv", x + [t("w"), t("ws"), t("wz"), q1.input[1], q1.input[2], t("b_int")],
                         [t("sub")], **sub_attrs),
        op("Cast", ["sub"], "f", to=TensorProto.FLOAT), mean(t("f"), t("mc")), op("Sub", ["mc", "z1"], "m"),
        reduce("ReduceSumSquare", t("f"), t("ss")), *count, op("Mul", ["ss", "inv_n"], "m2"), op("Mul", ["mc", "mc"], "mm"),
        op("Sub", ["m2", "mm"], "vq"), op("Mul", ["vq", "s1sq"], "v"), op("Add", ["v", "eps"], "ve"),
        op("Sqrt", ["ve"], "sd"),
        op("Div", ["absg", "sd"], "absa0"), op("Max", ["absa0", "tiny"], "absa"), op("Mul", ["ws", "absa"], "ws2"),
        # the conv's output times a = gamma / sd (bias kept): per channel, mean a * (mu - bias), spread |gamma|
        op("Div", ["gamma", "sd"], "a"), op("Mul", ["m", "s1"], "mu"), op("Sub", ["mu", "bias"], "mub"),
        op("Mul", ["a", "mub"], "imean"), op("Sub", ["imean", "span"], "lo0"), op("Add", ["imean", "span"], "hi0"),
        op("ReduceMin", ["lo0"], "lo1", keepdims=0), op("ReduceMax", ["hi0"], "hi1", keepdims=0),
        op("Min", ["lo1", "zero"], "lo"), op("Max", ["hi1", "zero"], "hi"), op("Sub", ["hi", "lo"], "range"),
        op("Div", ["range", "c255"], "iscale0"), op("Max", ["iscale0", "tiny"], "iscale"),
        op("Div", ["lo", "iscale"], "izf"), op("Neg", ["izf"], "izf2"), op("Round", ["izf2"], "izr"),
        op("Clip", ["izr", "zero", "c255"], "izc"), op("Cast", ["izc"], "izp", to=TensorProto.UINT8),
        helper.make_node("QLinearConv", x + [t("w_signed"), t("ws2"), t("wz"), t("iscale"), t("izp"), t("b_int")],
                         [t("inter")], **attrs),
        # + beta - a * (mu - bias), quantised per frame, broadcast along rows (ORT's fast broadcast path)
        op("Sub", ["beta", "imean"], "shift"), op("Abs", ["shift"], "ashift"),
        op("ReduceMax", ["ashift"], "mshift", keepdims=0), op("Div", ["mshift", "c127"], "sscale0"),
        op("Max", ["sscale0", "tiny"], "sscale"), op("Div", ["shift", "sscale"], "sq0"), op("Round", ["sq0"], "sq1"),
        op("Add", ["sq1", "c128"], "sq2"), op("Clip", ["sq2", "zero", "c255"], "sq3"),
        # built as NHWC rows [1, 1, W, C] and transposed, so ORT cancels that transpose with the NHWC conv's
        # and runs the add in NHWC (an NCHW shift would pull the tensor out of NHWC and back)
        op("Cast", ["sq3"], "sq4", to=TensorProto.UINT8), op("Reshape", ["sq4", "shape4"], "sq5"),
        helper.make_node("Shape", [t("inter")], [t("width")], start=3, end=4),
        op("Concat", ["one2", "width", "cout"], "rows", axis=0), op("Expand", ["sq5", "rows"], "sq6"),
        op("Transpose", ["sq6"], "sq", perm=[0, 3, 1, 2]),
        helper.make_node("QLinearAdd", [t("inter"), t("iscale"), t("izp"), t("sq"), t("sscale"), t("z128"),
                                        q.input[1], q.input[2]], [q.output[0]], domain="com.microsoft"),
    ]
    return nodes, consts
