"""Operation count of an ONNX style model: multiply-accumulates (MACs) per output pixel.

Counts Conv, QLinearConv, ConvInteger, ConvTranspose, MatMul(-Integer), QLinearMatMul and Gemm from the graph's
tensor shapes at one fixed size (every counted node's output and weight made a graph output, one ONNX Runtime
run with optimisations off, so int8 QDQ graphs count their DequantizeLinear'd weights and a conditional model's
style input is fed a neutral value), divided by the output's pixels (NCHW or NHWC). Everything else (norms,
activations, shuffles, quantize/dequantize) is not counted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

SIZE = 256
WEIGHT = {"Conv": 1, "ConvTranspose": 1, "ConvInteger": 1, "QLinearConv": 3}  # input index of the weight
MATMUL = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3), "Gemm": (0, 1)}


def _feeds(sess, size: int) -> dict:
    """A neutral value for every input: a mid-grey image at size x size, 1/N for style weights, zeros else."""
    types = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int64)": np.int64}
    out = {}
    for i in sess.get_inputs():
        dims = [d if isinstance(d, int) else 1 for d in i.shape]
        if len(dims) == 4 and dims[1] == 3 and not all(isinstance(d, int) for d in i.shape[2:]):
            dims[2:] = [size, size]
        dt = types.get(i.type, np.float32)
        out[i.name] = np.full(dims, 0.5 if dt == np.float32 else 0, dt)
        if len(dims) == 1 and dims[0] > 1 and dt == np.float32:  # style weights: an even blend
            out[i.name][:] = 1.0 / dims[0]
    return out


def _pixels(shape) -> int:
    """Pixels of an image output [N,3,H,W] or [N,H,W,3]."""
    if len(shape) == 4:
        return int(shape[2] * shape[3]) if shape[1] == 3 or shape[3] != 3 else int(shape[1] * shape[2])
    return int(np.prod(shape[-2:]))


def node_macs(onnx_path, size: int = SIZE) -> List[Tuple[str, str, int]]:
    """(node name, op type, MACs) of every counted node for one size x size input (a fixed-size input keeps its
    own size); the last item is ("output", "pixels", the output's pixels)."""
    import onnx
    import onnxruntime as ort
    model = onnx.load(str(onnx_path))
    g = model.graph
    inits = {t.name: tuple(t.dims) for t in g.initializer}
    nodes = [n for n in g.node if n.op_type in WEIGHT or n.op_type in MATMUL]
    want = []
    for n in nodes:
        ins = [n.input[WEIGHT[n.op_type]]] if n.op_type in WEIGHT else [n.input[i] for i in MATMUL[n.op_type]]
        if n.op_type == "ConvTranspose":
            ins.append(n.input[0])
        want += [t for t in ins + [n.output[0]] if t not in inits]
    have = {o.name for o in g.output}
    for name in dict.fromkeys(want):
        if name not in have:
            g.output.append(onnx.ValueInfoProto(name=name))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    shapes: Dict[str, tuple] = {**inits, **{k: v.shape for k, v in zip(names, sess.run(None, _feeds(sess, size)))}}
    out = []
    y0 = g.output[0].name
    for n in nodes:
        y = shapes[n.output[0]]
        if n.op_type in WEIGHT:
            w = shapes[n.input[WEIGHT[n.op_type]]]
            if n.op_type == "ConvTranspose":  # weight [Ci, Co/g, k, k]: every input pixel scatters
                macs = int(np.prod(shapes[n.input[0]])) * int(np.prod(w[1:]))
            else:                             # weight [Co, Ci/g, k, k]: every output pixel gathers
                macs = int(np.prod(y)) * int(np.prod(w[1:]))
        else:
            a = shapes[n.input[MATMUL[n.op_type][0]]]
            trans_a = any(at.name == "transA" and at.i for at in n.attribute)
            k = a[-2] if trans_a and len(a) >= 2 else a[-1]
            macs = int(np.prod(y)) * int(k)
        out.append((n.name or n.output[0], n.op_type, macs))
    return out + [("output", "pixels", _pixels(shapes[y0]))]


def macs_per_pixel(onnx_path, size: int = SIZE) -> float:
    """MACs per output pixel of the model at size x size."""
    *nodes, (_, _, pixels) = node_macs(onnx_path, size)
    return sum(m for *_, m in nodes) / float(pixels)


def kmac_per_pixel(onnx_path, size: int = SIZE) -> float:
    """The card's `kmac_per_pixel`: thousands of MACs per output pixel, one decimal."""
    return round(macs_per_pixel(Path(onnx_path), size) / 1000.0, 1)
