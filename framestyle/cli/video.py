"""Video commands: `video` (file -> file, audio kept) and `live` (sources -> sinks)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import UserError
from . import args as A


def _model_args(p, default_max=None, stabilize=None):
    A.model_args(p, "input")
    on = "on by default for files (docs/stability.md), " if stabilize else ""
    p.add_argument("--stabilize", nargs="?", const=0.6, default=stabilize, type=A.float_in(0.0, 0.95), metavar="S",
                   help=f"temporal stabiliser ({on}optional strength 0..0.95, default 0.6)")
    p.add_argument("--no-stabilize", dest="stabilize", action="store_const", const=None,
                   help="plain frame-by-frame stylisation")
    p.add_argument("--max-size", type=A.side, default=default_max, help="longer side of the processed frames")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


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
    lv.add_argument("--duration", type=A.positive_float, help="stop after S seconds")
    lv.add_argument("--realtime", action="store_true", help="pace a file source at its own frame rate")
    _model_args(lv)
    lv.set_defaults(func=cmd_live, needs=_live_needs)


def _live_needs(args) -> list:
    return (["mss"] if args.source.startswith("screen") else []) + \
        (["pyvirtualcam"] if args.sink == "virtualcam" else [])


def _stylizer(args):
    return A.make_stylizer(args)


def _stabilizer(args):
    if args.stabilize is None:
        return None
    from ..runtime.live import Stabilizer
    return Stabilizer(args.stabilize)


def cmd_video(args) -> int:
    from ..runtime.live.video import stylize_video
    from ..outputs import check_output
    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise UserError(f"{src}: file not found")
    check_output(dst, [src])
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
    from ..runtime.live.sinks import is_file_sink
    if is_file_sink(args.sink):
        from ..outputs import check_output
        check_output(args.sink, [args.source], flag="--sink")
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
