"""The gallery: one photo in every built-in style, each tile labelled with what to pass to get it.

    img, labels = make_sheet("photo.jpg")                 # every named style (and every style of a built-in
    save_image(img, "sheet.png")                          # multi-style student) at real-time quality
    img, labels = make_sheet(photo, models=["starry", "multistyle26"], tile=256)
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from ..imageio import MAX_PIXELS, ImageLike, load_image

PAD, LABEL = 6, 18


def sheet_models(names: Optional[Sequence[str]] = None) -> list:
    """The models on the sheet: the named ones given, else every built-in that is not a teacher and needs no
    style image (the catalogue's named styles, and any built-in multi-style student). A named arbitrary-style
    model is refused: it needs a style picture."""
    from ..zoo import get_model, list_models
    if not names:
        return [m for m in list_models() if m.builtin and m.kind != "arbitrary" and m.card.get("role") != "teacher"]
    models = [get_model(n) for n in names]
    for m in models:
        if m.kind == "arbitrary":
            raise UserError(f"model {m.name!r} needs a style picture; the sheet shows fixed and multi-style "
                            "models (try `framestyle stylize IMG --model magenta --style-image PAINTING`)")
    return models


def _jobs(models, threads) -> List[Tuple[str, object, Optional[int]]]:
    from .stylizer import Stylizer
    jobs = []
    for m in models:
        st = Stylizer(m, threads=threads)
        if m.kind == "multi" and m.style is None:  # a multi-style file: every style, by the option to pass
            jobs += [(f"{m.name} --style {i}", st, i) for i in range(m.styles)]
        else:
            jobs.append((m.name, st, None))
    return jobs


def _size(n_tiles: int, th: int, tw: int, cols: int) -> Tuple[int, int]:
    cols = min(cols, n_tiles)
    rows = -(-n_tiles // cols)
    return cols * (tw + PAD) + PAD, rows * (th + LABEL + PAD) + PAD


def make_sheet(image: ImageLike, models: Optional[Sequence[str]] = None, tile: int = 256,
               threads: Optional[int] = None, cols: int = 7) -> Tuple[np.ndarray, List[str]]:
    """-> (the sheet as uint8 HxWx3, the tile labels). The first tile is the photo itself."""
    from PIL import Image, ImageDraw
    from ..train.data import resize_long
    img = load_image(image)
    jobs = _jobs(sheet_models(models), threads)
    s = tile / max(img.shape[:2])
    w, h = _size(len(jobs) + 1, round(img.shape[0] * s), round(img.shape[1] * s), cols)
    if w * h > MAX_PIXELS:
        raise UserError(f"the sheet would be {w}x{h} ({w * h / 1e6:.0f} MP, over the {MAX_PIXELS // 1_000_000} MP "
                        "limit); use a smaller --tile or fewer --models")
    img = resize_long(img, tile)
    th, tw = img.shape[:2]
    tiles = [("original", img)]
    for label, st, style in jobs:
        if style is not None:
            st.set_style(style)
        tiles.append((label, st.stylize(img)))
    cols = min(cols, len(tiles))
    sheet = Image.new("RGB", _size(len(tiles), th, tw, cols), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (label, t) in enumerate(tiles):
        r, c = divmod(n, cols)
        x, y = PAD + c * (tw + PAD), PAD + r * (th + LABEL + PAD)
        sheet.paste(Image.fromarray(t), (x, y + LABEL))
        draw.text((x + 2, y + 3), label, fill="black")
    return np.asarray(sheet), [t[0] for t in tiles]
