"""Generic ONNX graph surgery: QDQ int8 -> float, fixed -> dynamic shapes.

Written for the tf2onnx-exported Magenta graphs but nothing here is Magenta-specific.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np
import onnx
from onnx import helper, numpy_helper

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
Dim = Union[int, str, None]


def _initializers(graph: onnx.GraphProto) -> Dict[str, onnx.TensorProto]:
    return {t.name: t for t in graph.initializer}


def named_weights(graph: onnx.GraphProto) -> Dict[str, np.ndarray]:
    """Initializers by name as arrays; the exporter de-duplicates equal tensors as Identity(initializer), so
    those outputs are named too."""
    out = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Identity" and n.input[0] in out:
            out.setdefault(n.output[0], out[n.input[0]])
    return out


def compact_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same model with short names: the exporter names every intermediate tensor and node by its module path
    (~80 KB of a 1 MB multi26). Kept: the graph's inputs and outputs, the initializers and their Identity aliases
    (named_weights reads weights back by those names). In place; returns the model."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    keep = {v.name for v in g.input} | {v.name for v in g.output} | inits
    keep |= {n.output[0] for n in g.node if n.op_type == "Identity" and n.input[0] in inits}
    new, k = {}, 0
    for n in g.node:
        n.name, n.doc_string = "", ""
        for o in n.output:
            if o and o not in keep:
                while f"_t{k}" in keep:  # never a kept name
                    k += 1
                new[o], k = f"_t{k}", k + 1
    for n in g.node:
        n.input[:] = [new.get(x, x) for x in n.input]
        n.output[:] = [new.get(x, x) for x in n.output]
    del g.value_info[:]
    return model


def links(graph: onnx.GraphProto):
    """(consumers, producer): the nodes reading each tensor name, and the node writing each."""
    consumers: Dict[str, List[onnx.NodeProto]] = {}
    producer: Dict[str, onnx.NodeProto] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producer[name] = node
    return consumers, producer


def _consumers(graph: onnx.GraphProto) -> Dict[str, List[onnx.NodeProto]]:
    return links(graph)[0]


def _dequant(x: np.ndarray, scale: np.ndarray, zp: Optional[np.ndarray], axis: int) -> np.ndarray:
    x = x.astype(np.float64)
    scale = scale.astype(np.float64)
    zp = np.zeros_like(scale) if zp is None else zp.astype(np.float64)
    if scale.ndim == 1 and x.ndim > 0:  # per-axis
        shape = [1] * x.ndim
        shape[axis % x.ndim] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((x - zp) * scale).astype(np.float32)


def fold_weight_dequant(model: onnx.ModelProto) -> int:
    """Replace every DequantizeLinear whose input is an initializer by a float initializer."""
    g = model.graph
    inits = _initializers(g)
    keep, folded = [], 0
    for node in g.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            arr = lambda i: numpy_helper.to_array(inits[node.input[i]]) if len(node.input) > i and node.input[i] else None
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            val = _dequant(arr(0), arr(1), arr(2), axis)
            g.initializer.append(numpy_helper.from_array(val, node.output[0]))
            folded += 1
        else:
            keep.append(node)
    del g.node[:]
    g.node.extend(keep)
    return folded


def bypass_nodes(model: onnx.ModelProto, op_types: Iterable[str]) -> int:
    """Turn nodes of op_types into identity on their first input and rewire consumers.

    When the bypassed output is a graph output, an Identity node keeps the name.
    """
    g = model.graph
    ops = set(op_types)
    alias: Dict[str, str] = {}
    graph_outputs = {o.name for o in g.output}
    keep, n = [], 0
    for node in g.node:
        if node.op_type in ops:
            n += 1
            src = node.input[0]
            if node.output[0] in graph_outputs:
                keep.append(helper.make_node("Identity", [src], [node.output[0]], name=node.name + "_id"))
            else:
                alias[node.output[0]] = src
        else:
            keep.append(node)

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for node in keep:
        for i, name in enumerate(node.input):
            node.input[i] = resolve(name)
    del g.node[:]
    g.node.extend(keep)
    return n


def remove_unused_initializers(model: onnx.ModelProto) -> int:
    g = model.graph
    used = {name for node in g.node for name in node.input} | {o.name for o in g.output}
    keep = [t for t in g.initializer if t.name in used]
    n = len(g.initializer) - len(keep)
    del g.initializer[:]
    g.initializer.extend(keep)
    return n


def clear_value_info(model: onnx.ModelProto) -> None:
    """Drop intermediate shape/type annotations (stale after surgery)."""
    del model.graph.value_info[:]


def dequantize_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a float copy of a QDQ model: weight DQ folded, activation Q/DQ made identity.

    Works whatever sits between a Q and its DQ (tf2onnx inserts Transpose/Reshape there).
    """
    m = onnx.ModelProto()
    m.CopyFrom(model)
    fold_weight_dequant(m)
    left = [n for n in m.graph.node if n.op_type in QDQ_OPS and n.input[0] in _initializers(m.graph)]
    if left:
        raise ValueError(f"QuantizeLinear on a constant is not supported: {left[0].name}")
    bypass_nodes(m, QDQ_OPS)
    remove_unused_initializers(m)
    clear_value_info(m)
    for vi in list(m.graph.input) + list(m.graph.output):
        tt = vi.type.tensor_type
        if tt.elem_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8):
            tt.elem_type = onnx.TensorProto.FLOAT
    return m


def _set_dims(vi: onnx.ValueInfoProto, dims: Sequence[Dim]) -> None:
    shape = vi.type.tensor_type.shape
    if len(shape.dim) != len(dims):
        raise ValueError(f"{vi.name}: rank {len(shape.dim)} but {len(dims)} dims given")
    for d, new in zip(shape.dim, dims):
        if new is None:
            continue
        if isinstance(new, str):
            d.ClearField("dim_value")
            d.dim_param = new
        else:
            d.ClearField("dim_param")
            d.dim_value = int(new)


def free_reshape_batch(model: onnx.ModelProto, batch: int = 1) -> int:
    """Set a leading `batch` in constant Reshape targets to 0 (= copy the input's dim 0)."""
    g = model.graph
    inits = _initializers(g)
    uses = _consumers(g)
    n = 0
    for node in g.node:
        if node.op_type != "Reshape" or node.input[1] not in inits:
            continue
        tgt = numpy_helper.to_array(inits[node.input[1]]).copy()
        if tgt.ndim != 1 or len(tgt) < 2 or tgt[0] != batch:
            continue
        tgt[0] = 0
        name = node.input[1]
        if len(uses.get(name, [])) > 1 or any(o.name == name for o in g.output):
            name = f"{name}__dynbatch_{n}"  # shared constant: give this node its own copy
            node.input[1] = name
            g.initializer.append(numpy_helper.from_array(tgt.astype(np.int64), name))
        else:
            inits[name].CopyFrom(numpy_helper.from_array(tgt.astype(np.int64), name))
        for a in node.attribute:  # allowzero=1 would make 0 literal
            if a.name == "allowzero" and a.i:
                raise ValueError(f"{node.name}: allowzero=1, cannot free batch")
        n += 1
    return n


def make_dynamic(
    model: onnx.ModelProto,
    inputs: Mapping[str, Sequence[Dim]],
    outputs: Optional[Mapping[str, Sequence[Dim]]] = None,
    free_batch: bool = True,
) -> onnx.ModelProto:
    """Return a copy with input/output dims replaced (str = symbolic, None = keep).

    Outputs not listed keep their rank but lose their sizes. With free_batch, constant Reshape
    targets starting with 1 get 0 so a batch dim > 1 flows through.
    """
    m = onnx.ModelProto()
    m.CopyFrom(model)
    by_name = {vi.name: vi for vi in m.graph.input}
    for name, dims in inputs.items():
        if name not in by_name:
            raise KeyError(f"no graph input {name!r}; have {list(by_name)}")
        _set_dims(by_name[name], dims)
    outputs = outputs or {}
    for vi in m.graph.output:
        if vi.name in outputs:
            _set_dims(vi, outputs[vi.name])
        else:
            for d in vi.type.tensor_type.shape.dim:  # keep rank, forget sizes
                d.ClearField("dim_value")
                d.ClearField("dim_param")
    clear_value_info(m)
    if free_batch:
        free_reshape_batch(m)
    return m


def check(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnx checker + shape inference (raises on a broken graph); returns the inferred model."""
    onnx.checker.check_model(model)
    return onnx.shape_inference.infer_shapes(model, strict_mode=True)
