"""Video commands: `video` (file -> file, audio kept), `live` (sources -> sinks), `eval-temporal`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import UserError


def _model_args(p, default_max=None, stabilize=None):
    p.add_argument("--model", help="zoo model name or .onnx path (default: the built-in student)")
    p.add_argument("--style", help="style index or blend for multi-style models, e.g. 7 or 3:0.5,12:0.5")
    p.add_argument("--style-image", help="style picture for arbitrary models (--model magenta)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 blend toward the input")
    p.add_argument("--preserve-color", action="store_true", help="keep the input's colours")
    on = "on by default for files (docs/stability.md), " if stabilize else ""
    p.add_argument("--stabilize", nargs="?", const=0.6, default=stabilize, type=float, metavar="S",
                   help=f"temporal stabiliser ({on}optional strength 0..0.95, default 0.6)")
    p.add_argument("--no-stabilize", dest="stabilize", action="store_const", const=None,
                   help="plain frame-by-frame stylisation")
    p.add_argument("--max-size", type=int, default=default_max, help="longer side of the processed frames")
    p.add_argument("--threads", type=int, help="CPU threads for the model")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    from ..runtime.arbitrary import add_method_args
    add_method_args(p)


def add_parsers(sub):
    v = sub.add_parser("video", help="stylise a video file (audio kept, frame rate kept)")
    v.add_argument("input", help="input video")
    v.add_argument("-o", "--output", required=True, help="output .mp4/.mkv/.mov")
    _model_args(v, stabilize=0.6)
    v.set_defaults(func=cmd_video)

    lv = sub.add_parser("live", help="real-time stylisation: webcam/screen/file/stream -> window/file/mjpeg")
    lv.add_argument("--source", required=True,
                    help="webcam[:N] | screen[:x,y,w,h] | FILE | DIR | rtsp://... | http://... (MJPEG)")
    lv.add_argument("--sink", default="window", help="window | FILE.mp4 | virtualcam | mjpeg[:PORT] | null")
    lv.add_argument("--duration", type=float, help="stop after S seconds")
    lv.add_argument("--realtime", action="store_true", help="pace a file source at its own frame rate")
    _model_args(lv)
    lv.set_defaults(func=cmd_live)

    add_temporal_args(sub.add_parser("eval-temporal", help="flicker (warping error): same as `eval temporal`"))


def add_temporal_args(e):
    """Arguments of `eval temporal` (also reachable as `eval-temporal`)."""
    e.add_argument("--video", default="synthetic", help="a video file, or 'synthetic' (pan/zoom, exact flow)")
    e.add_argument("--model", help="zoo model name or .onnx path")
    e.add_argument("--style", help="style for multi-style models")
    e.add_argument("--frames", type=int, default=30)
    e.add_argument("--max-size", type=int, default=640)
    e.add_argument("--stabilize", type=float, default=0.6, help="stabiliser strength")
    e.add_argument("--smooth", type=float, default=0.5, help="weight of the averaging baseline")
    e.add_argument("--teacher", help="teacher for the PSNR columns: multistyle26:N | magenta:IMG | none "
                                     "(default: the model card's teacher; it is slow, so keep --frames small)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_eval_temporal)


def _stylizer(args):
    from ..runtime import Stylizer
    if args.max_size is not None and args.max_size < 16:
        raise UserError(f"--max-size must be at least 16, got {args.max_size}")
    model = args.model
    if args.style_image and model is None and args.method is None:
        model = "magenta"  # a style image with no model named: the arbitrary teacher
    return Stylizer(model, style=args.style, style_image=args.style_image, strength=args.strength,
                    preserve_color=args.preserve_color, threads=args.threads, method=args.method,
                    style_bank=args.style_bank, alpha=args.alpha)


def _stabilizer(args):
    if args.stabilize is None:
        return None
    from ..runtime.live import Stabilizer
    return Stabilizer(args.stabilize)


def cmd_video(args) -> int:
    from ..runtime.live.video import stylize_video
    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise UserError(f"{src}: file not found")
    st = _stylizer(args)
    res = stylize_video(src, dst, st, _stabilizer(args), max_size=args.max_size, progress=sys.stderr.isatty()
                        or not args.json)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"wrote {res['output']}: {res['frames']} frames {res['width']}x{res['height']} @ {res['fps']} fps, "
              f"audio {res['audio'] or 'none'}, {res['seconds']} s ({res['speed_x_realtime']}x real time)")
    return 0


def cmd_live(args) -> int:
    from ..runtime.live import open_sink, open_source, run_live
    if args.duration is not None and args.duration <= 0:
        raise UserError("--duration must be positive")
    source = open_source(args.source, realtime=args.realtime)
    try:
        st = _stylizer(args)
        sink = open_sink(args.sink, fps=source.fps)
    except BaseException:
        source.close()
        raise
    try:
        stats = run_live(source, st, sink, _stabilizer(args), duration=args.duration, max_size=args.max_size,
                         overlay=args.sink == "window")
    except BaseException:
        getattr(sink, "abort", sink.close)()
        raise
    sink.close()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        lat = stats["latency_ms"]
        print(f"{stats['frames_in']} frames in = {stats['frames_out']} out + {stats['dropped']} dropped + "
              f"{stats['in_flight']} in flight at stop; "
              f"{stats['fps']} FPS delivered; latency p50 {lat['p50']} ms, p90 {lat['p90']} ms")
    return 0


def cmd_eval_temporal(args) -> int:
    from ..metrics.temporal import evaluate_temporal
    if args.frames < 2:
        raise UserError("--frames must be at least 2")
    if not 0 <= args.stabilize < 1 or not 0 <= args.smooth < 1:
        raise UserError("--stabilize and --smooth must be in [0, 1)")
    if args.video != "synthetic" and not Path(args.video).exists():
        raise UserError(f"{args.video}: file not found")
    res = evaluate_temporal(args.video, args.model, frames=args.frames, style=args.style, max_size=args.max_size,
                            strength=args.stabilize, smooth=args.smooth, teacher=args.teacher)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{res['video']} ({res['frames']} frames {res['size'][0]}x{res['size'][1]}, model {res['model']}, "
          f"teacher {res['teacher'] or 'none'})")
    cuts = res["cut_pairs"]
    for name, row in res["results"].items():
        extra = "".join(f"  {k} {v}" for k, v in row.items() if k.startswith("psnr"))
        within = f", within shots {row['vs_frame_by_frame_within_shots']}x" if cuts else ""
        print(f"  {name:16s} warping error {row['warping_error']:.5f} ({row['vs_frame_by_frame']}x{within}){extra}")
    if cuts:
        print(f"  scene cuts between frames {', '.join(f'{i}-{i + 1}' for i in cuts)} (left out of 'within shots')")
    if res["ghosting_db"] is not None:
        print(f"  ghosting (PSNR vs teacher, frame by frame - stabilised): {res['ghosting_db']:+.2f} dB")
    eq = res["averaged_at_equal_error"]
    if eq is None:
        print("  averaging cannot get as steady as the stabiliser (smooth <= 0.95)")
    else:
        extra = "".join(f"  {k} {v}" for k, v in eq.items() if k.startswith("psnr"))
        print(f"  averaging as steady as the stabiliser: smooth {eq['smooth']}{extra}")
    return 0
