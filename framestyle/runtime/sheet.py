"""The gallery: one photo in every built-in style, each tile labelled with what to pass to get it.

    img, labels = make_sheet("photo.jpg")                 # every named style (and every style of a built-in
    save_image(img, "sheet.png")                          # multi-style student) at real-time quality
    img, labels = make_sheet(photo, models=["starry", "multistyle26"], tile=256)
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..imageio import ImageLike, load_image


def sheet_models(names: Optional[Sequence[str]] = None) -> list:
    """The models on the sheet: the named ones given, else every built-in that is not a teacher and needs no
    style image (the catalogue's named styles, and any built-in multi-style student)."""
    from ..zoo import get_model, list_models
    if names:
        return [get_model(n) for n in names]
    return [m for m in list_models() if m.builtin and m.kind != "arbitrary" and m.card.get("role") != "teacher"]


def _jobs(models, threads) -> List[Tuple[str, object, Optional[int]]]:
    from .stylizer import Stylizer
    jobs = []
    for m in models:
        if m.kind == "arbitrary":
            continue  # needs a style image
        st = Stylizer(m, threads=threads)
        if m.kind == "multi" and m.style is None:  # a multi-style file: every style, by the option to pass
            jobs += [(f"{m.name} --style {i}", st, i) for i in range(m.styles)]
        else:
            jobs.append((m.name, st, None))
    return jobs


def make_sheet(image: ImageLike, models: Optional[Sequence[str]] = None, tile: int = 256,
               threads: Optional[int] = None, cols: int = 7) -> Tuple[np.ndarray, List[str]]:
    """-> (the sheet as uint8 HxWx3, the tile labels). The first tile is the photo itself."""
    from PIL import Image, ImageDraw
    from ..train.data import resize_long
    img = resize_long(load_image(image), tile)
    tiles = [("original", img)]
    for label, st, style in _jobs(sheet_models(models), threads):
        if style is not None:
            st.set_style(style)
        tiles.append((label, st.stylize(img)))
    cols = min(cols, len(tiles))
    rows = -(-len(tiles) // cols)
    th, tw = img.shape[:2]
    pad, lab = 6, 18
    sheet = Image.new("RGB", (cols * (tw + pad) + pad, rows * (th + lab + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (label, t) in enumerate(tiles):
        r, c = divmod(n, cols)
        x, y = pad + c * (tw + pad), pad + r * (th + lab + pad)
        sheet.paste(Image.fromarray(t), (x, y + lab))
        draw.text((x + 2, y + 3), label, fill="black")
    return np.asarray(sheet), [t[0] for t in tiles]
