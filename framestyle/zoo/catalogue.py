"""The catalogue: the names users pass, the one default, old names, and the one rule that picks a model.

Every named style resolves to one shipped file, or to one style of a multi-style file ("style entries").
`framestyle models`, `sheet`, the web page and docs/catalogue.md read this table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import UserError

DEFAULT = "starry"   # THE default everywhere: Stylizer(), stylize, batch, video, live, the web page


@dataclass(frozen=True)
class Entry:
    name: str                     # what users pass to --model
    file: str                     # the built-in NAME.onnx (framestyle/zoo/builtin) it runs
    style: Optional[str] = None   # for a multi-style file: the style it selects ("5"); None: the file's own
    use: str = ""                 # what it is for


# ember/pastel/sepia/nightblue are styles 5/12/0/19 of `multi26`: since session 13 that file scores higher against
# the teacher on each of them than their own real-time files did (docs/multi.md), so it is what they run.
ENTRIES = (
    Entry("starry", "starry", use="the default: photos, video, live and the web page (Starry Night)"),
    Entry("graffiti", "graffiti", use="bold street-art colours (graf1)"),
    Entry("ember", "multi26", "5", use="warm fiery strokes (multistyle26 style 5)"),
    Entry("pastel", "multi26", "12", use="soft pastel (multistyle26 style 12)"),
    Entry("sepia", "multi26", "0", use="brown ink wash (multistyle26 style 0)"),
    Entry("nightblue", "multi26", "19", use="dark blue night (multistyle26 style 19)"),
    Entry("multi26", "multi26", use="all 26 styles of the peer's gallery and their blends, real time: --style 7 "
                                    "or --style 3:0.5,12:0.5"),
    Entry("arbitrary", "arbitrary", use="any painting in real time: --style-image (the `student` method)"),
    Entry("adain-lite0", "adain-lite0", use="any painting, with a style/photo mix: --method adain --alpha"),
)

# old names -> the model that replaced them (a one-line notice on stderr when used)
ALIASES = {
    "starry-rt-int8": "starry", "starry-fast": "starry",
    "graffiti-rt-int8": "graffiti", "graffiti-fast": "graffiti",
    "ember-fast": "ember", "ember-steady-fast": "ember", "pastel-fast": "pastel", "sepia-fast": "sepia",
    "nightblue-fast": "nightblue",
    "arbitrary-mg-int8": "arbitrary", "arbitrary-mg": "arbitrary", "arbitrary-fast": "arbitrary",
}

# arbitrary-style engines (--method) and the model each runs
METHODS = ("magenta", "student", "adain")
METHOD_MODELS = {"magenta": "magenta", "student": "arbitrary", "adain": "adain-lite0"}
STYLE_IMAGE_METHOD = "magenta"   # a style image with neither model nor method: the quality reference


def entry(name: str) -> Optional[Entry]:
    return next((e for e in ENTRIES if e.name == name), None)


def pick_model(model=None, style_image=None, method: Optional[str] = None):
    """The one rule. An explicit model wins (a name, path or ModelInfo); else a method runs its model; else a
    style image runs STYLE_IMAGE_METHOD's model; else DEFAULT."""
    if method is not None and method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if model is not None and model != "":
        return model
    if method is not None:
        return METHOD_MODELS[method]
    if style_image is not None:
        return METHOD_MODELS[STYLE_IMAGE_METHOD]
    return DEFAULT


def default_model(style_image=None, method: Optional[str] = None) -> str:
    """The model that runs when none is named (see pick_model)."""
    return pick_model(None, style_image, method)
