"""The contact sheet: one image in every style, labelled tiles on a white grid.

    from framestyle.runtime.sheet import contact_sheet
    sheet, labels = contact_sheet("photo.jpg", tile=256)            # every built-in style
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError
from ..imageio import MAX_PIXELS, ImageLike, load_image

COLS, PAD, LABEL = 7, 6, 18


def sheet_jobs(names: Optional[Sequence[str]] = None, threads: Optional[int] = None) -> list:
    """(label, Stylizer, style or None) for each tile: every fixed model and every style of each multi-style
    model. Named arbitrary-style models are refused (they need a style picture)."""
    from ..zoo import get_model, list_models
    from .stylizer import Stylizer
    models = [get_model(n) for n in names] if names else list_models()
    jobs = []
    for m in models:
        if m.kind == "fixed":
            jobs.append((m.name, Stylizer(m, threads=threads), None))
        elif m.kind == "multi":
            st = Stylizer(m, threads=threads)
            jobs += [(f"{m.name}:{i}", st, i) for i in range(int(m.card.get("styles", 26)))]
        elif names:
            raise UserError(f"model {m.name!r} needs a style picture; the sheet shows fixed and multi-style "
                            "models (try `framestyle stylize IMG --model magenta --style-image PAINTING`)")
    return jobs


def sheet_size(n_tiles: int, th: int, tw: int) -> Tuple[int, int]:
    cols = min(COLS, n_tiles)
    rows = -(-n_tiles // cols)
    return cols * (tw + PAD) + PAD, rows * (th + LABEL + PAD) + PAD


def contact_sheet(image: ImageLike, names: Optional[Sequence[str]] = None, tile: int = 256,
                  threads: Optional[int] = None) -> Tuple[np.ndarray, List[str]]:
    """-> (the sheet as HxWx3 uint8, the tile labels). The first tile is the original."""
    from PIL import Image, ImageDraw
    from ..train.data import resize_long
    img = load_image(image)
    jobs = sheet_jobs(names, threads)
    s = tile / max(img.shape[:2])
    w, h = sheet_size(len(jobs) + 1, round(img.shape[0] * s), round(img.shape[1] * s))
    if w * h > MAX_PIXELS:
        raise UserError(f"the sheet would be {w}x{h} ({w * h / 1e6:.0f} MP, over the {MAX_PIXELS // 1_000_000} MP "
                        "limit); use a smaller --tile or fewer --models")
    img = resize_long(img, tile)
    th, tw = img.shape[:2]
    w, h = sheet_size(len(jobs) + 1, th, tw)
    tiles = [("original", img)]
    for label, st, style in jobs:
        if style is not None:
            st.set_style(style)
        tiles.append((label, st.stylize(img)))
    sheet = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(sheet)
    cols = min(COLS, len(tiles))
    for n, (label, t) in enumerate(tiles):
        r, c = divmod(n, cols)
        x, y = PAD + c * (tw + PAD), PAD + r * (th + LABEL + PAD)
        sheet.paste(Image.fromarray(t), (x, y + LABEL))
        draw.text((x + 2, y + 3), label, fill="black")
    return np.asarray(sheet), [label for label, _ in tiles]
