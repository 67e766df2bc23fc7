"""A render loop with style transfer as a post-process.

Renders a simple animated scene with numpy (moving gradient, bouncing disc, rotating bar) at 640x480,
stylises every frame with `Stylizer.process` (buffers reused, no per-frame allocation in the model path),
prints the per-frame cost, and writes an mp4 (or PNG frames) to the output path.

    python examples/render_loop.py --model multistyle26 --style 7 --frames 90 -o /tmp/render.mp4
    python examples/render_loop.py -o /tmp/frames/   # the default model; a folder -> PNG frames
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from framestyle.imageio import save_image
from framestyle.runtime import Stylizer
from framestyle.runtime.live.codec import VideoWriter

W, H = 640, 480


class Scene:
    def __init__(self):
        self.yy, self.xx = np.mgrid[0:H, 0:W].astype(np.float32)
        self.frame = np.empty((H, W, 3), np.uint8)

    def render(self, t: float) -> np.ndarray:
        xx, yy, f = self.xx, self.yy, self.frame
        f[..., 0] = (127 + 127 * np.sin(xx / 60 + t * 2)).astype(np.uint8)
        f[..., 1] = (127 + 127 * np.sin(yy / 45 - t * 1.3)).astype(np.uint8)
        f[..., 2] = ((xx + yy + t * 120) % 256).astype(np.uint8)
        cx = W / 2 + W / 3 * np.sin(t * 1.7)
        cy = H / 2 + H / 3 * abs(np.sin(t * 2.3))
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < 60 ** 2
        f[disc] = (250, 230, 40)
        a = t * 0.8
        d = np.abs((xx - W / 2) * np.sin(a) - (yy - H / 2) * np.cos(a))
        along = np.abs((xx - W / 2) * np.cos(a) + (yy - H / 2) * np.sin(a))
        f[(d < 12) & (along < 200)] = (20, 20, 200)
        return f


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="zoo model or .onnx path (default: the catalogue's default)")
    ap.add_argument("--style", help="style for multi-style models")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("-o", "--output", default="render_loop.mp4", help=".mp4 file, or a folder for PNG frames")
    args = ap.parse_args()
    st = Stylizer(args.model, style=args.style)
    scene = Scene()
    out = Path(args.output)
    to_video = out.suffix.lower() in (".mp4", ".mkv", ".mov")
    writer = VideoWriter(out, W, H, args.fps) if to_video else None
    if not to_video:
        out.mkdir(parents=True, exist_ok=True)
    render_ms, style_ms = [], []
    try:
        for i in range(args.frames):
            t0 = time.perf_counter()
            frame = scene.render(i / args.fps)
            t1 = time.perf_counter()
            styled = st.process(frame)  # internal buffer: used right away below
            t2 = time.perf_counter()
            render_ms.append(1000 * (t1 - t0))
            style_ms.append(1000 * (t2 - t1))
            if writer is not None:
                writer.write(styled)
            elif i % max(1, args.frames // 4) == 0:
                save_image(styled, out / f"frame_{i:04d}.png")
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    s = np.array(style_ms[1:] or style_ms)
    print(f"{args.frames} frames {W}x{H}: render {np.median(render_ms):.1f} ms, stylise median {np.median(s):.1f} ms, "
          f"p90 {np.percentile(s, 90):.1f} ms ({1000 / np.median(s):.1f} FPS for the post-process alone)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
