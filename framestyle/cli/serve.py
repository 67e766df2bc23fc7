"""`framestyle serve`: the web app (upload page, stylise API, live webcam modes)."""
from __future__ import annotations

from . import args as A


def add_parsers(sub) -> None:
    p = sub.add_parser("serve", help="run the web app (page, API and live webcam) on 127.0.0.1",
                       description="Serve the framestyle page and API. Binds 127.0.0.1 unless --host is given. "
                                   "On-device webcam mode needs scripts/fetch_web_assets.sh run once.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=A.int_in(0, 65535), default=8000)
    p.add_argument("--workers", type=A.positive_int, default=1, help="stylisation worker threads (default 1)")
    p.add_argument("--threads", type=A.threads, help="ONNX Runtime threads per worker (default: cores / workers)")
    p.add_argument("--queue", type=A.nonneg_int, default=4, help="requests allowed to wait for a worker; more get 429")
    p.add_argument("--max-upload-mb", type=A.positive_float, default=10.0, help="largest accepted image file (MB)")
    p.add_argument("--max-pixels", type=A.int_in(256, 100_000_000), default=12_000_000, help="largest accepted image (pixels)")
    p.add_argument("--timeout", type=A.positive_float, default=60.0, help="seconds before a request answers 504")
    p.add_argument("--header-timeout", type=A.positive_float, default=10.0,
                   help="seconds a client may take to send a request's headers before it is dropped")
    p.add_argument("--max-connections", type=A.positive_int, default=256,
                   help="open connections; a new one beyond it drops the oldest still sending headers")
    p.set_defaults(func=cmd_serve, needs=("fastapi", "uvicorn", "multipart"))


def cmd_serve(args) -> int:
    from ..web.server import WebConfig, serve
    cfg = WebConfig(host=args.host, port=args.port, workers=args.workers, queue=args.queue,
                    max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels, timeout=args.timeout,
                    threads=args.threads, header_timeout=args.header_timeout,
                    max_connections=args.max_connections).check()
    print(f"framestyle serving on http://{'[' + cfg.host + ']' if ':' in cfg.host else cfg.host}:{cfg.port}/ "
          f"({cfg.workers} worker(s), queue {cfg.queue}); Ctrl-C stops", flush=True)
    serve(cfg)
    return 0
