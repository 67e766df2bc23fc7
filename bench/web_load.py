"""Loopback load test of `framestyle serve`: N concurrent clients POST /api/stylize, bounded in count and time.

    python bench/web_load.py                      # starts its own server on 127.0.0.1, 50 clients, 300 requests
    python bench/web_load.py --workers 2 --queue 16 --requests 300 --max-seconds 60
    python bench/web_load.py --url http://127.0.0.1:8000 --model starry   # an already running server

Prints a table (requests/s, p50/p90 latency of successful requests, 429s) and writes it into docs/web.md between
the web_load markers, with the command line. Only loopback addresses are accepted as targets.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "web.md"
BEGIN, END = "<!-- web_load:begin -->", "<!-- web_load:end -->"


def pick_model(home: Path) -> str:
    """A built-in fixed-style student, else a tiny random-weight one exported into `home` (plumbing only)."""
    from framestyle.zoo import list_models
    for m in list_models():
        if m.builtin and m.kind == "fixed":
            return m.name
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    from framestyle.zoo import add_user_model
    export_onnx(build("fast", alpha=0.34, blocks=2), home / "tiny.onnx")
    return add_user_model(home / "tiny.onnx", "tiny-bench", {"kind": "fixed", "input": {"multiple": 4}}).name


def photo_bytes(size: str) -> bytes:
    from PIL import Image
    data = Path(os.environ.get("FRAMESTYLE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "images" / "home.jpg"
    w, h = (int(v) for v in size.lower().split("x"))
    buf = io.BytesIO()
    Image.open(data).convert("RGB").resize((w, h)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


async def load(url: str, model: str, body: bytes, clients: int, requests: int, max_s: float, backoff: float):
    import httpx
    todo = {"left": requests}
    ok_ms, codes = [], {}
    t0 = time.perf_counter()
    stop_at = t0 + max_s

    async def client(c: httpx.AsyncClient):
        while todo["left"] > 0 and time.perf_counter() < stop_at:
            todo["left"] -= 1
            t = time.perf_counter()
            try:
                r = await c.post(url + "/api/stylize", files={"image": ("a.jpg", body, "image/jpeg")},
                                 data={"model": model}, timeout=max(1.0, stop_at - t + 30))
                code = r.status_code
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            codes[code] = codes.get(code, 0) + 1
            if code == 200:
                ok_ms.append((time.perf_counter() - t) * 1000)
            elif code == 429:
                await asyncio.sleep(backoff)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits) as c:
        await asyncio.gather(*[client(c) for _ in range(clients)])
    return time.perf_counter() - t0, ok_ms, codes


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def write_doc(table: str, cmd: str) -> None:
    from framestyle.imageio import atomic_write_bytes
    block = f"{BEGIN}\nCommand: `{cmd}`\n\n{table}\n{END}"
    text = DOC.read_text() if DOC.exists() else f"# Web app\n\n## Load test\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text += f"\n## Load test\n\n{block}\n"
    atomic_write_bytes(DOC, text.encode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="an already running server on loopback (default: start one)")
    ap.add_argument("--model", help="zoo model (default: a built-in student, else a tiny random one)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--size", default="512x384", help="image size sent, WxH")
    ap.add_argument("--workers", type=int, default=2, help="server workers (own server only)")
    ap.add_argument("--queue", type=int, default=16, help="server queue (own server only)")
    ap.add_argument("--threads", type=int, default=1, help="ORT threads per worker (own server only)")
    ap.add_argument("--backoff", type=float, default=0.2, help="seconds a client waits after a 429")
    ap.add_argument("--no-doc", action="store_true", help="don't update docs/web.md")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1") \
            and not (urlparse(args.url).hostname or "").startswith("127."):
        ap.error("--url must be a loopback address (127.0.0.1, localhost, ::1)")
    body = photo_bytes(args.size)
    load_avg = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fs-webload-") as tmp:
        os.environ["FRAMESTYLE_HOME"] = os.environ.get("FRAMESTYLE_HOME") if args.url else tmp
        model = args.model or pick_model(Path(os.environ["FRAMESTYLE_HOME"]))
        if args.url:
            elapsed, ok_ms, codes = asyncio.run(load(args.url.rstrip("/"), model, body, args.clients, args.requests,
                                                     args.max_seconds, args.backoff))
            where = f"server at {args.url}"
        else:
            from framestyle.web.server import spawn_server
            srv = ["--workers", str(args.workers), "--queue", str(args.queue), "--threads", str(args.threads)]
            with spawn_server(srv, env={"FRAMESTYLE_HOME": tmp}) as url:
                import httpx  # warm each worker's model once, outside the timing
                for _ in range(args.workers):
                    httpx.post(url + "/api/stylize", files={"image": ("a.jpg", body, "image/jpeg")},
                               data={"model": model}, timeout=60)
                elapsed, ok_ms, codes = asyncio.run(load(url, model, body, args.clients, args.requests,
                                                         args.max_seconds, args.backoff))
            where = f"own server: --workers {args.workers} --queue {args.queue} --threads {args.threads}"
    sent = sum(codes.values())
    res = {"model": model, "size": args.size, "clients": args.clients, "sent": sent, "seconds": round(elapsed, 2),
           "ok": len(ok_ms), "ok_per_s": round(len(ok_ms) / elapsed, 2), "p50_ms": round(pct(ok_ms, 50), 1),
           "p90_ms": round(pct(ok_ms, 90), 1), "n429": codes.get(429, 0),
           "other": {str(k): v for k, v in codes.items() if k not in (200, 429)}}
    table = ("| model | image | clients | sent | seconds | 200 | 200/s | p50 ms | p90 ms | 429 | other |\n"
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
             f"| {model} | {args.size} | {args.clients} | {sent} | {res['seconds']} | {res['ok']} | {res['ok_per_s']} "
             f"| {res['p50_ms']} | {res['p90_ms']} | {res['n429']} | {res['other'] or '-'} |\n\n"
             f"{where}; clients wait {args.backoff} s after a 429. Machine: {os.cpu_count()} CPUs "
             f"({platform.machine()}); 1-minute load average {load_avg:.1f} at the start (other jobs share the CPU).")
    print(json.dumps(res, indent=2) if args.json else table)
    if not args.no_doc:
        cmd = "python bench/web_load.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_doc(table, cmd.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
