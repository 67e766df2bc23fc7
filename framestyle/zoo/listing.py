"""`framestyle models`: one row per model (name, styles, kind, kMAC/px, 720p speed class, fidelity, use, default)."""
from __future__ import annotations

from typing import List

from .catalogue import DEFAULT

COLUMNS = ("name", "styles", "kind", "kMAC/px", "720p speed", "vs teacher", "for")


def row(m) -> dict:
    """The fields `models --json` adds to each item (and the table shows)."""
    speed = m.card.speed
    return {"styles": m.styles, "style": m.style, "speed_720p": speed.get("class"),
            "fps_1280x720": speed.get("fps_1280x720"), "fidelity_psnr": m.fidelity_psnr,
            "kmac_per_pixel": m.card.kmac_per_pixel,
            "use": m.use, "default": m.name == DEFAULT and m.builtin, "broken": m.broken}


def _cells(m) -> List[str]:
    r = row(m)
    name = m.name + (" *" if r["default"] else "")
    styles = f"1 ({m.teacher})" if m.style is not None else str(r["styles"] if m.kind == "multi" else
                                                                ("any" if m.kind == "arbitrary" else 1))
    fps = r["fps_1280x720"]
    speed = (r["speed_720p"] or "-") + (f" ({fps:g} FPS)" if fps else "")
    fid = f"{r['fidelity_psnr']:.1f} dB" if r["fidelity_psnr"] else "-"
    use = m.use if m.builtin else f"user model: {m.broken or m.use or m.card.description or '-'}"
    if m.broken:
        name, use = name + " (broken)", f"BROKEN CARD: {m.broken}"
    kmac = f"{r['kmac_per_pixel']:.1f}" if r["kmac_per_pixel"] else "-"
    return [name, styles, m.kind, kmac, speed, fid, use]


def table(models) -> str:
    """A plain-text table with a header; the default is marked with `*`."""
    rows = [list(COLUMNS)] + [_cells(m) for m in models]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    lines.insert(1, "-" * min(120, max(len(x) for x in lines)))
    lines.append("* the default (Stylizer(), stylize, batch, video, live, the web page). Speed class at "
                 "1280x720 from the card: real time >= 6x the peer in the same bench run, interactive >= 2x. "
                 "kMAC/px: thousands of multiply-accumulates per output pixel (convs and matmuls).")
    return "\n".join(lines)
