"""A small ONNX -> PyTorch interpreter for plain float conv nets (differentiable).

Covers the ops of the float Magenta style predictor (MobileNetV2): Conv, Clip, Relu, Add, Mul, Sub,
Transpose, Reshape, GlobalAveragePool, ReduceMean, Pad, Identity, Sigmoid, Concat. Weights become
frozen buffers of an nn.Module; `forward` runs the nodes in graph order and returns the requested
tensors by name, stopping as soon as all of them are known (cheap shallow taps).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError

SUPPORTED = {"Conv", "Clip", "Relu", "Add", "Mul", "Sub", "Transpose", "Reshape", "GlobalAveragePool",
             "ReduceMean", "Pad", "Identity", "Sigmoid", "Concat"}


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class OnnxModule(nn.Module):
    """Runs a float ONNX graph with torch ops; input names map to tensors in the graph's own layout."""

    def __init__(self, model):
        super().__init__()
        from onnx import numpy_helper
        g = model.graph
        bad = sorted({n.op_type for n in g.node} - SUPPORTED)
        if bad:
            raise UserError(f"ONNX graph uses ops this converter does not support: {', '.join(bad)}")
        self.keys: Dict[str, str] = {}
        for i, t in enumerate(g.initializer):
            arr = numpy_helper.to_array(t)
            key = f"c{i}"
            t_arr = torch.from_numpy(np.array(arr, dtype=np.int64 if arr.dtype.kind in "iu" else np.float32))
            self.register_buffer(key, t_arr, persistent=False)
            self.keys[t.name] = key
        self.nodes = [(n.op_type, list(n.input), list(n.output), _attrs(n)) for n in g.node]
        self.input_names = [i.name for i in g.input if i.name not in self.keys]
        self.output_names = [o.name for o in g.output]
        known = {o for n in self.nodes for o in n[2]} | set(self.input_names)
        self.tensor_names = [o for n in self.nodes for o in n[2]]
        self._known = known

    def forward(self, inputs: Dict[str, torch.Tensor], wanted: Optional[Iterable[str]] = None) -> Dict[str, torch.Tensor]:
        wanted = list(wanted or self.output_names)
        missing = [w for w in wanted if w not in self._known]
        if missing:
            raise UserError(f"no tensor named {missing[0]!r} in the graph")
        env: Dict[str, torch.Tensor] = dict(inputs)
        left = set(wanted) - set(env)
        for op, ins, outs, at in self.nodes:
            if not left:
                break
            args = [self._get(env, n) if n else None for n in ins]
            env[outs[0]] = _run(op, args, at)
            left.discard(outs[0])
        return {w: env[w] for w in wanted}

    def _get(self, env, name):
        if name in env:
            return env[name]
        return getattr(self, self.keys[name])


def _conv(x, w, b, at):
    k = w.shape[2:]
    pads = list(at.get("pads", [0] * (2 * len(k))))
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UserError("Conv auto_pad is not supported")
    n = len(k)
    begin, end = pads[:n], pads[n:]
    if begin != end:  # asymmetric (TF 'SAME' with stride 2): pad explicitly, conv with none
        x = F.pad(x, [p for i in reversed(range(n)) for p in (begin[i], end[i])])
        pad = 0
    else:
        pad = tuple(begin)
    return F.conv2d(x, w, b, stride=tuple(at.get("strides", [1] * n)), padding=pad,
                    dilation=tuple(at.get("dilations", [1] * n)), groups=at.get("group", 1))


def _reshape(x, shape):
    tgt: List[int] = [int(v) for v in shape.tolist()]
    tgt = [x.shape[i] if v == 0 else v for i, v in enumerate(tgt)]
    return x.reshape(tgt)


def _pad(x, pads, value, at):
    mode = at.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    p = [int(v) for v in pads.tolist()]
    n = x.dim()
    tp = [q for i in reversed(range(n)) for q in (p[i], p[i + n])]
    while len(tp) > 2 and tp[-1] == 0 and tp[-2] == 0:
        tp = tp[:-2]
    if mode == "constant":
        return F.pad(x, tp, value=float(value) if value is not None else 0.0)
    return F.pad(x, tp, mode={"reflect": "reflect", "edge": "replicate"}[mode])


def _run(op, a, at):
    if op == "Conv":
        return _conv(a[0], a[1], a[2] if len(a) > 2 else None, at)
    if op == "Clip":
        lo = a[1] if len(a) > 1 and a[1] is not None else at.get("min")
        hi = a[2] if len(a) > 2 and a[2] is not None else at.get("max")
        return torch.clamp(a[0], float(lo) if lo is not None else None, float(hi) if hi is not None else None)
    if op == "Relu":
        return F.relu(a[0])
    if op == "Sigmoid":
        return torch.sigmoid(a[0])
    if op == "Add":
        return a[0] + a[1]
    if op == "Sub":
        return a[0] - a[1]
    if op == "Mul":
        return a[0] * a[1]
    if op == "Identity":
        return a[0]
    if op == "Transpose":
        return a[0].permute(*at["perm"])
    if op == "Reshape":
        return _reshape(a[0], a[1])
    if op == "GlobalAveragePool":
        return a[0].mean(dim=tuple(range(2, a[0].dim())), keepdim=True)
    if op == "ReduceMean":
        axes = at.get("axes") or (a[1].tolist() if len(a) > 1 and a[1] is not None else None)
        return a[0].mean(dim=tuple(axes), keepdim=bool(at.get("keepdims", 1)))
    if op == "Pad":
        return _pad(a[0], a[1], a[2] if len(a) > 2 else None, at)
    if op == "Concat":
        return torch.cat(a, dim=at["axis"])
    raise UserError(f"unsupported ONNX op {op}")


def load_onnx_module(path) -> OnnxModule:
    import onnx
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise UserError(f"{path}: cannot read ONNX ({exc})") from None
    return OnnxModule(model)
