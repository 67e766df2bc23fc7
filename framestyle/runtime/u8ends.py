"""uint8 ends for int8 graphs: feed the frame's bytes straight into the first quantised tensor, take the last one out.

A static int8 model (`framestyle quantize --int8`) whose input and output are quantised with scale 1/255 and zero
point 0 holds 8-bit pixels as they are: the frame's byte v *is* the quantised input, and the stylised image's
bytes are the output's quantised codes. `uint8_graph` then needs no float conversion at either end:

- in: the frame (H, W, 3) is rearranged to NCHW as bytes and handed to the input's DequantizeLinear. When the first
  op is the one-hot space-to-depth conv of the phase stem (`nets.mgnet.SpaceToDepth`) and its output is quantised
  at 1/255 too, one byte rearrangement replaces that conv.
- out: when the output is quantised at 1/255, its codes are the output bytes; a final DepthToSpace between two such
  quantisations (the sigmoid before the last pixel shuffle, as `mg` and `ms26` export) joins the NCHW->HWC
  rearrangement, so the last transpose is one pass over bytes.

`rewrite(graph, frame_name, out_name)` returns False (graph untouched) when the graph does not have these ends.
"""
from __future__ import annotations

import numpy as np


def _consts(g):
    from onnx import numpy_helper
    return {i.name: numpy_helper.to_array(i) for i in g.initializer}


def _exact(c, scale_name, zp_name=None) -> bool:
    """Quantisation (scale, zero point) that maps bytes v to v/255 exactly: scale 1/255, uint8 zero point 0
    (an omitted zero point is not taken as one: the graph then keeps the conversion wrapper)."""
    s, z = c.get(scale_name), c.get(zp_name)
    return (s is not None and z is not None and s.size == 1 and z.dtype == np.uint8 and int(z) == 0
            and abs(float(s) * 255 - 1) < 1e-6)


def _codes(g, c, y):
    """(uint8 tensor whose codes are the output bytes, DepthToSpace blocksize still to apply, nodes this replaces)
    for the graph output `y`, or None. The output is an exact dequantisation, possibly after a final
    DepthToSpace; ORT does not run DepthToSpace on quantised tensors, so it is float between two exact
    quantisations or after the last one. The DepthToSpace then joins the final NCHW -> HWC byte transpose."""
    drop, block, t = [], 1, y
    d = _depth_to_space(g, t)
    if d is not None:
        drop.append(d[0])
        block, t = d[1], d[0].input[0]
    dq = _producer(g, t)
    if dq is None or dq.op_type != "DequantizeLinear" or not _exact(c, *dq.input[1:3]):
        return None
    drop.append(dq)
    if block == 1:
        q = _producer(g, dq.input[0])
        d = _depth_to_space(g, q.input[0]) if q is not None and q.op_type == "QuantizeLinear" else None
        if d is not None and _exact(c, *q.input[1:3]):
            dq2 = _producer(g, d[0].input[0])
            if dq2 is not None and dq2.op_type == "DequantizeLinear" and _exact(c, *dq2.input[1:3]):
                return dq2.input[0], d[1], drop + [q, d[0], dq2]
    return dq.input[0], block, drop


def _depth_to_space(g, name):
    """(node, blocksize) if `name` is made by a CRD DepthToSpace (PyTorch's pixel shuffle) used once at most."""
    from onnx import helper
    n = _producer(g, name)
    if n is None or n.op_type != "DepthToSpace" or len(_users(g, name)) > 1:
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
    mode = attrs.get("mode", b"DCR")
    return (n, int(attrs["blocksize"])) if (mode.decode() if isinstance(mode, bytes) else mode) == "CRD" else None


def _users(g, name):
    return [n for n in g.node if name in n.input]


def _producer(g, name):
    return next((n for n in g.node if name in n.output), None)


def _one_hot_s2d(g, c, conv) -> bool:
    """Conv 3->12, 2x2 stride 2, no bias, weights the PixelUnshuffle(2) one-hot (channel c*4 + qy*2 + qx)."""
    if conv.op_type != "Conv" or len(conv.input) != 2:
        return False
    from onnx import helper
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    if (list(attrs.get("strides", [])) != [2, 2] or any(attrs.get("pads", [])) or attrs.get("group", 1) != 1
            or any(d != 1 for d in attrs.get("dilations", [])) or attrs.get("auto_pad", b"NOTSET") != b"NOTSET"
            or list(attrs.get("kernel_shape", [2, 2])) != [2, 2]):
        return False
    wdq = _producer(g, conv.input[1])
    if wdq is None or wdq.op_type != "DequantizeLinear" or wdq.input[0] not in c:
        return False
    q, s = c[wdq.input[0]].astype(np.float32), c.get(wdq.input[1])
    zp = c.get(wdq.input[2]) if len(wdq.input) > 2 else None
    if s is None or q.shape != (12, 3, 2, 2):
        return False
    return one_hot_s2d_weight((q - (0 if zp is None else zp.astype(np.float32).reshape(-1, 1, 1, 1)))
                              * s.reshape(-1, 1, 1, 1))


def s2d_one_hot() -> np.ndarray:
    """Conv weights [12, 3, 2, 2] of PixelUnshuffle(2): output channel c*4 + qy*2 + qx copies pixel (qy, qx) of c
    (`nets.mgnet.SpaceToDepth` is this conv)."""
    w = np.zeros((12, 3, 2, 2), np.float32)
    for ch in range(3):
        for qy in range(2):
            for qx in range(2):
                w[ch * 4 + qy * 2 + qx, ch, qy, qx] = 1
    return w


def one_hot_s2d_weight(w) -> bool:
    """Whether conv weights `w` are `s2d_one_hot()`."""
    return tuple(w.shape) == (12, 3, 2, 2) and bool(np.abs(np.asarray(w, np.float32) - s2d_one_hot()).max() < 1e-5)


def rewrite(m, frame: str, out: str) -> bool:
    """Give the model `m` (onnx ModelProto, one float NCHW image input and output) a uint8 HWC input `frame`
    and output `out` by the exact byte paths above; False, and `m` unchanged, if its ends are not exact."""
    from onnx import TensorProto, helper
    g = m.graph
    c = _consts(g)
    x, y = g.input[0].name, g.output[0].name
    q_in = _users(g, x)
    if len(q_in) != 1 or q_in[0].op_type != "QuantizeLinear" or not _exact(c, *q_in[0].input[1:3]):
        return False
    drop, perms = [q_in[0]], []
    # in: is the first op the one-hot space-to-depth conv, its output quantised at 1/255, read by one conv?
    feed, s2d = q_in[0].output[0], False
    dq_in = _users(g, feed)
    if len(dq_in) == 1 and dq_in[0].op_type == "DequantizeLinear":
        convs = _users(g, dq_in[0].output[0])
        if len(convs) == 1 and _one_hot_s2d(g, c, convs[0]):
            q2 = _users(g, convs[0].output[0])
            ok = len(q2) == 1 and q2[0].op_type == "QuantizeLinear" and _exact(c, *q2[0].input[1:3])
            dq2 = _users(g, q2[0].output[0]) if ok else []
            nxt = _users(g, dq2[0].output[0]) if len(dq2) == 1 and dq2[0].op_type == "DequantizeLinear" else []
            if len(nxt) == 1 and _weight_dq(g, c, nxt[0], 1, 12):
                # the frame's bytes arrive in (qy, qx, c) order: one cheap transpose; the conv reads them so
                perms.append((nxt[0], 1, [(ch * 4 + qy * 2 + qx) for qy in range(2) for qx in range(2)
                                          for ch in range(3)]))
                drop += [dq_in[0], convs[0], q2[0]]
                feed, s2d = q2[0].output[0], True
    ends = _codes(g, c, y)
    if ends is None:
        return False
    codes, block, more = ends
    drop += more
    if block > 1:  # the last conv writes its outputs in (by, bx, c) order (DCR): one cheap transpose out
        conv = _last_conv(g, c, codes, block * block * 3)
        if conv is None or any(conv is n for n, _, _ in perms):  # one conv both first and last: keep it simple
            return False
        b = block
        perms.append((conv, 0, [ch * b * b + by * b + bx for by in range(b) for bx in range(b) for ch in range(3)]))
    for node, axis, order in perms:
        _permute(g, c, node, axis, order)

    def const(name, vals):
        g.initializer.append(helper.make_tensor(name, TensorProto.INT64, [len(vals)], vals))
        return name

    # ONNX Runtime runs int8 convs channels-last: the NHWC -> NCHW transposes here cancel against its own
    if s2d:  # (H, W, 3) -> (H/2, 2, W/2, 2*3) -> (H/2, W/2, 2, 2*3) = NHWC with 12 channels (qy, qx, c)
        head = [helper.make_node("Shape", [frame], ["fs_hw3"]),
                helper.make_node("Slice", ["fs_hw3", const("fs_s0", [0]), const("fs_s2", [2])], ["fs_hw"]),
                helper.make_node("Div", ["fs_hw", const("fs_two", [2, 2])], ["fs_hw2"]),
                helper.make_node("Slice", ["fs_hw2", "fs_s0", const("fs_s1", [1])], ["fs_h2"]),
                helper.make_node("Slice", ["fs_hw2", "fs_s1", "fs_s2"], ["fs_w2"]),
                helper.make_node("Concat", ["fs_h2", const("fs_c2", [2]), "fs_w2", const("fs_c6", [6])],
                                 ["fs_shape4"], axis=0),
                helper.make_node("Reshape", [frame, "fs_shape4"], ["fs_4d"]),
                helper.make_node("Transpose", ["fs_4d"], ["fs_t4"], perm=[0, 2, 1, 3]),
                helper.make_node("Concat", [const("fs_c1", [1]), "fs_h2", "fs_w2", const("fs_c12", [12])],
                                 ["fs_nhwc"], axis=0),
                helper.make_node("Reshape", ["fs_t4", "fs_nhwc"], ["fs_in"])]
    else:
        head = [helper.make_node("Unsqueeze", [frame, const("fs_ax0", [0])], ["fs_in"])]
    head.append(helper.make_node("Transpose", ["fs_in"], [feed], perm=[0, 3, 1, 2]))
    b = block  # NHWC (1, h, w, b*b*3) in (by, bx, c) order -> (h, b, w, b*3) -> (h*b, w*b, 3)
    tail = [helper.make_node("Transpose", [codes], ["fs_nhwc_out"], perm=[0, 2, 3, 1]),
            helper.make_node("Shape", ["fs_nhwc_out"], ["fs_oshape"]),
            helper.make_node("Slice", ["fs_oshape", const("fs_o1", [1]), const("fs_o3", [3])], ["fs_ohw"]),
            helper.make_node("Slice", ["fs_ohw", const("fs_o0", [0]), "fs_o1"], ["fs_oh"]),
            helper.make_node("Slice", ["fs_ohw", "fs_o1", const("fs_o2", [2])], ["fs_ow"]),
            helper.make_node("Concat", ["fs_oh", "fs_ow", const("fs_ob", [b, b * 3])], ["fs_o4"], axis=0),
            helper.make_node("Reshape", ["fs_nhwc_out", "fs_o4"], ["fs_ob4"]),
            helper.make_node("Transpose", ["fs_ob4"], ["fs_obt"], perm=[0, 2, 1, 3]),
            helper.make_node("Mul", ["fs_ohw", const("fs_bb", [b, b])], ["fs_oHW"]),
            helper.make_node("Concat", ["fs_oHW", const("fs_o3c", [3])], ["fs_oshape3"], axis=0),
            helper.make_node("Reshape", ["fs_obt", "fs_oshape3"], [out])]
    keep = [n for n in g.node if not any(n is d for d in drop)]
    del g.node[:]
    g.node.extend(head + keep + tail)
    _prune(g, out)
    del g.input[0]
    g.input.insert(0, helper.make_tensor_value_info(frame, TensorProto.UINT8, ["height", "width", 3]))
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info(out, TensorProto.UINT8, ["height", "width", 3])])
    return True


def _weight_dq(g, c, conv, axis: int, channels: int):
    """The DequantizeLinear giving `conv` (not grouped) its weight, if the weight has `channels` channels on
    `axis` and the quantised weight (for axis 0 also the bias, and every per-channel scale and zero point, all of
    which get reordered) are initializers used by this conv alone."""
    from onnx import helper
    if conv.op_type != "Conv" or any(a.name == "group" and helper.get_attribute_value(a) != 1
                                     for a in conv.attribute):
        return None
    ins = [conv.input[1]] + ([conv.input[2]] if axis == 0 and len(conv.input) > 2 and conv.input[2] else [])
    for k, t in enumerate(ins):
        dq = _producer(g, t)
        if dq is None or dq.op_type != "DequantizeLinear" or len(_users(g, t)) != 1:
            return None
        if dq.input[0] not in c or len(_users(g, dq.input[0])) != 1:
            return None
        if k == 0 and (c[dq.input[0]].ndim != 4 or c[dq.input[0]].shape[axis] != channels):
            return None
        if axis == 0 and any(i in c and c[i].size > 1 and len(_users(g, i)) != 1 for i in dq.input[1:3]):
            return None
    return _producer(g, conv.input[1])


def _last_conv(g, c, codes, channels: int):
    """The conv whose outputs, through a quantise-dequantise pair, a sigmoid and its quantisation (all per
    tensor), are `codes` (channel for channel, each tensor used once), if its weights can be reordered."""
    t = codes
    for op in ("QuantizeLinear", "Sigmoid", "DequantizeLinear", "QuantizeLinear", "Conv"):
        n = _producer(g, t)
        if n is None or n.op_type != op or len(_users(g, n.output[0])) != 1:
            return None
        if "Quantize" in op and any(i not in c or c[i].size != 1 for i in n.input[1:3]):
            return None
        t = n.input[0]
    return n if _weight_dq(g, c, n, 0, channels) is not None else None


def _permute(g, c, conv, axis: int, order) -> None:
    """Reorder `conv`'s input (axis 1) or output (axis 0: weights, bias, per-channel scales) channels; the
    constants `c` follow."""
    from onnx import numpy_helper
    order = np.asarray(order)
    names = {}
    for k, t in enumerate(conv.input[1:3]):
        dq = _producer(g, t)
        names[dq.input[0]] = axis if k == 0 else 0
        if axis == 0:  # per-channel scale / zero point follow the output channels
            for extra in dq.input[1:3]:
                if extra in c and c[extra].size == len(order):
                    names[extra] = 0
        if axis == 1:
            break
    for i, init in enumerate(g.initializer):
        if init.name in names:
            c[init.name] = np.ascontiguousarray(np.take(c[init.name], order, axis=names[init.name]))
            g.initializer[i].CopyFrom(numpy_helper.from_array(c[init.name], init.name))


def _prune(g, out: str) -> None:
    """Drop nodes and initializers nothing needs any more (e.g. the replaced conv's weights)."""
    need, nodes = {out}, []
    for n in reversed(list(g.node)):
        if any(o in need for o in n.output):
            nodes.append(n)
            need.update(i for i in n.input if i)
    del g.node[:]
    g.node.extend(reversed(nodes))
    inits = [i for i in g.initializer if i.name in need]
    del g.initializer[:]
    g.initializer.extend(inits)
