"""Rebuild a PyTorch student from its exported ONNX: card `arch` + `arch_kwargs`, weights from initializers.

Every built-in student is exported by `framestyle.export.onnx.export_onnx`, which keeps the PyTorch parameter
names on the ONNX initializers, so the copy is by name; leftovers (folded BatchNorm, renamed constants) are
matched by shape in graph order. The result is always checked against ONNX Runtime.
"""
from __future__ import annotations

from pathlib import Path
from typing import Tuple, Union

import numpy as np

from ..errors import UserError
from ..zoo import ModelInfo, get_model


def load_info(model: Union[str, Path, ModelInfo]) -> ModelInfo:
    """The model to shrink, its file checked first: a missing, empty or corrupt .onnx is one clear error before
    any work (ONNX Runtime's quantisation tools would print tracebacks)."""
    from ..runtime.session import check_model, make_session
    info = model if isinstance(model, ModelInfo) else get_model(str(model))
    check_model(make_session(info.path, threads=1), info.path)
    return info


def torch_from_onnx(model: Union[str, Path, ModelInfo], check: bool = True, tol: float = 1e-4):
    """Return (net, info): the student as an eval-mode PyTorch module with the ONNX weights."""
    import onnx
    import torch
    from ..nets import build
    from ..zoo.onnx_surgery import named_weights
    info = load_info(model)
    arch = info.card.get("arch")
    if not arch:
        raise UserError(f"model {info.name!r} is not a framestyle student (its card has no `arch`), so it "
                        "cannot be rebuilt in PyTorch; use a student trained by framestyle")
    net = build(arch, **(info.card.get("arch_kwargs") or {})).eval()
    if getattr(net, "cond", False):  # a style input beside the image
        return _one_style(net, info, check, tol), info
    try:
        graph = onnx.load(str(info.path)).graph
    except Exception as exc:
        raise UserError(f"{info.path}: cannot read ONNX ({exc})") from None
    inits = named_weights(graph)
    state = net.state_dict()
    new, used = {}, set()
    for k, v in state.items():
        a = inits.get(k)
        if a is not None and tuple(a.shape) == tuple(v.shape) and a.dtype == np.float32:
            new[k] = torch.from_numpy(a.copy())
            used.add(k)
    if len(new) < len(state):
        _fill_by_structure(net, graph, inits, new)
    rest = [(n, a) for n, a in inits.items() if n not in used and a.dtype == np.float32]
    for k, v in state.items():
        if k in new:
            continue
        if not v.is_floating_point() or v.numel() == 0:
            new[k] = v
            continue
        hit = next((i for i, (n, a) in enumerate(rest) if tuple(a.shape) == tuple(v.shape)), None)
        if hit is None:
            raise UserError(f"{info.path}: no float weight for {k} {tuple(v.shape)} in the ONNX file (quantised "
                            "or foreign models cannot be rebuilt; use the float student)")
        new[k] = torch.from_numpy(rest.pop(hit)[1].copy())
    net.load_state_dict(new)
    if check:
        diff = compare_with_ort(net, info.path)
        if diff > tol:
            raise UserError(f"{info.path}: rebuilt PyTorch net differs from the ONNX by {diff:.2e}; "
                            "the card's arch does not match the file")
    return net, info


def _one_style(net, info: ModelInfo, check: bool, tol: float):
    """A conditional student as the fixed one-style net these tools rebuild: a style entry of a multi-style file
    (ember = multi26 style 5) gives that style's FixedRT (`MultiRT.specialise`, the net the runtime runs);
    anything else with a style input is one error line."""
    from ..nets.multi import MultiRT
    if not isinstance(net, MultiRT) or info.style is None:
        entries = ""
        if isinstance(net, MultiRT):
            from ..zoo.catalogue import ENTRIES
            entries = ", ".join(e.name for e in ENTRIES if e.file == info.path.stem and e.style is not None)
            entries = f" (its styles by name: {entries})" if entries else ""
        raise UserError(f"model {info.name!r} takes a style beside the image; this works on a one-style model: a "
                        f"named style of a multi-style model{entries}, or a student made for one style "
                        "(`framestyle distill`)")
    from ..nets.teacher_shaped import load_export
    sw = info.style_weights
    try:
        fixed = load_export(net, info.path, "multi-rt").specialise(sw).eval()  # the net built from the card
    except ValueError as exc:
        raise UserError(str(exc)) from None
    fixed.arch_name, fixed.arch_kwargs = "multi-rt-fixed", dict(info.card.get("arch_kwargs") or {})
    if check:
        diff = compare_with_ort(fixed, info.path, style_weights=np.asarray(sw, np.float32))
        if diff > tol:
            raise UserError(f"{info.path}: its style {info.style} rebuilt in PyTorch differs from the ONNX by "
                            f"{diff:.2e}; the card's arch does not match the file")
    return fixed


def _fill_by_structure(net, graph, inits: dict, new: dict) -> None:
    """Pair modules (in call order) with ONNX nodes that read initializers (in graph order), copy by position.

    Needed when the exporter de-duplicated identical initializers (e.g. untouched norm scales of 1)."""
    import torch
    order = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod) if mod not in order else None)
             for m in net.modules() if list(m.parameters(recurse=False))]
    with torch.no_grad():
        net(torch.rand(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    nodes = [n for n in graph.node if n.op_type != "Identity" and any(i in inits for i in n.input)]
    if len(nodes) != len(order):
        return
    names = {id(m): name for name, m in net.named_modules()}
    for mod, node in zip(order, nodes):
        arrays = [inits[i] for i in node.input if i in inits]
        params = list(mod.named_parameters(recurse=False))
        if len(arrays) != len(params):
            return
        for (pname, p), a in zip(params, arrays):
            key = f"{names[id(mod)]}.{pname}"
            if tuple(a.shape) == tuple(p.shape) and a.dtype == np.float32 and key not in new:
                new[key] = torch.from_numpy(a.copy())


def compare_with_ort(net, path, sizes: Tuple[Tuple[int, int], ...] = ((64, 96), (136, 200)),
                     style_weights=None) -> float:
    """Max abs difference between the PyTorch net and the ONNX file under ORT on random inputs (`style_weights`:
    the file's second input, for a one-style net of a multi-style file)."""
    import torch
    from ..runtime.session import make_session
    sess = make_session(path, threads=2)
    name = sess.get_inputs()[0].name
    worst = 0.0
    for h, w in sizes:
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h + w))
        with torch.no_grad():
            ref = net(x).numpy()
        feeds = {name: x.numpy()}
        if style_weights is not None:
            feeds[sess.get_inputs()[1].name] = style_weights
        got = sess.run(None, feeds)[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    return worst

