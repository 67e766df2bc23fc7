"""Slow-client check of `framestyle serve`: hold N half-open connections (headers never finished) and N slow
uploads (headers sent, body never) while /api/health is polled; print what health answered and when the server
dropped the connections.

    python bench/web_slowclients.py --kind half --conns 300 --seconds 15
    python bench/web_slowclients.py --kind slow --conns 300 --seconds 15 --serve-args "--timeout 10"
"""
from __future__ import annotations

import argparse
import socket
import statistics
import time

import httpx

from framestyle.web.server import spawn_server


def open_many(url: str, n: int, payload: bytes) -> list:
    host, port = url.rsplit("/", 1)[-1].split(":")
    out = []
    for _ in range(n):
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(payload)
            s.setblocking(False)
            out.append(s)
        except OSError:
            pass
    return out


def is_closed(s: socket.socket) -> bool:
    try:
        return s.recv(1 << 16) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=300, help="half-open connections, and as many slow uploads")
    ap.add_argument("--seconds", type=float, default=15.0, help="how long to poll /api/health")
    ap.add_argument("--kind", choices=("half", "slow", "both"), default="both")
    ap.add_argument("--serve-args", default="", help="extra `framestyle serve` arguments")
    a = ap.parse_args()
    with spawn_server(a.serve_args.split()) as url:
        half = open_many(url, a.conns * (a.kind != "slow"), b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        slow = open_many(url, a.conns * (a.kind != "half"),
                         b"POST /api/stylize HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                                       b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b")
        time.sleep(0.5)  # let the server accept them all
        t0 = time.monotonic()
        codes, ms, dropped_at = {}, [], {}
        with httpx.Client(timeout=5) as c:
            while time.monotonic() - t0 < a.seconds:
                t = time.perf_counter()
                try:
                    r = c.get(url + "/api/health", headers={"Connection": "close"})
                    key = f"{r.status_code} {r.headers.get('content-type', '')}"
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                ms.append((time.perf_counter() - t) * 1000)
                codes[key] = codes.get(key, 0) + 1
                for name, group in (("half-open", half), ("slow upload", slow)):
                    n = sum(is_closed(s) for s in group)
                    dropped_at.setdefault(name, []).append((round(time.monotonic() - t0, 1), n))
                time.sleep(0.05)
        for s in half + slow:
            s.close()
    print(f"opened {len(half)} half-open + {len(slow)} slow-upload connections; polled /api/health for "
          f"{a.seconds:g} s: {sum(codes.values())} answers {codes}; median {statistics.median(ms):.1f} ms, "
          f"max {max(ms):.1f} ms")
    for name, series in dropped_at.items():
        total = len(half) if name == "half-open" else len(slow)
        if not total:
            continue
        marks = [next((t for t, n in series if n >= k), None) for k in (1, total // 2, total)]
        print(f"{name}: closed by the server: first at {marks[0]} s, half by {marks[1]} s, all by {marks[2]} s "
              f"(final {series[-1][1]})")


if __name__ == "__main__":
    main()
