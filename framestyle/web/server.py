"""The worker pool behind the web app, its limits, and the uvicorn runner.

Stylisation runs in a bounded pool of threads (ONNX Runtime releases the GIL while it computes). Each worker
thread keeps one `Stylizer` per model and reuses it. Jobs beyond `workers + queue` are refused (HTTP 429).
"""
from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

from ..errors import UserError


@dataclass
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1           # stylisation threads
    queue: int = 4             # jobs allowed to wait beyond the busy workers
    max_upload_mb: float = 10.0
    max_pixels: int = 12_000_000
    timeout: float = 60.0      # seconds from arrival to answer (queue wait included)
    threads: Optional[int] = None  # ORT threads per worker (default: cores / workers)
    header_timeout: float = 10.0   # seconds a connection may take to send a request's headers
    max_connections: int = 256     # open HTTP connections; beyond it the oldest still sending headers is dropped

    def check(self) -> "WebConfig":
        if self.workers < 1:
            raise UserError(f"--workers must be at least 1, got {self.workers}")
        if self.queue < 0:
            raise UserError(f"--queue must be 0 or more, got {self.queue}")
        if not self.max_upload_mb > 0:
            raise UserError(f"--max-upload-mb must be positive, got {self.max_upload_mb}")
        if self.max_pixels < 256:
            raise UserError(f"--max-pixels must be at least 256, got {self.max_pixels}")
        if not self.timeout > 0:
            raise UserError(f"--timeout must be positive, got {self.timeout}")
        if not (math.isfinite(self.header_timeout) and self.header_timeout > 0):
            raise UserError(f"--header-timeout must be positive, got {self.header_timeout}")
        if self.max_connections < 8:
            raise UserError(f"--max-connections must be at least 8, got {self.max_connections}")
        if not 0 < self.port < 65536:
            raise UserError(f"--port must be 1..65535, got {self.port}")
        return self

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_in_flight(self) -> int:
        """Requests in progress before JSON 503s: below max_connections, so health checks always find room."""
        return self.max_connections - max(4, self.max_connections // 8)

    @property
    def ort_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)


class Busy(Exception):
    """The pool is full: retry after `retry_after` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"server busy, retry in {retry_after} s")
        self.retry_after = retry_after


class StylizePool:
    """A fixed set of worker threads, each with its own cached Stylizers (one per model, so one per arbitrary
    method), and a bounded backlog."""

    def __init__(self, workers: int, queue: int, ort_threads: int):
        self.workers, self.capacity = workers, workers + queue
        self.ort_threads = ort_threads
        self._exec = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stylize")
        self._local = threading.local()
        self._lock = threading.Lock()
        self.pending = 0           # submitted and not finished (running + waiting)
        self.done = 0
        self._avg_s = 0.5          # running mean of job time, for Retry-After

    def stylizer(self, model: str, style=None, style_image=None, style_key: Optional[str] = None):
        """This worker thread's Stylizer for `model` (created once, then reused), set to `style` or, for
        arbitrary models, to `style_image` (encoded bytes). The image is decoded and its style computed again only
        when `style_key` (its digest) differs from the last one this worker used with `model`."""
        from ..imageio import load_image
        from ..runtime import Stylizer
        if not hasattr(self._local, "cache"):
            self._local.cache, self._local.styles = {}, {}
        cache, styles = self._local.cache, self._local.styles
        st = cache.get(model)
        fresh = style_image is not None and (style_key is None or styles.get(model) != ("image", style_key))
        img = load_image(style_image, "style_image") if fresh else None
        if st is None:
            st = cache[model] = Stylizer(model, style_image=img, threads=self.ort_threads)
        elif fresh:
            styles.pop(model, None)  # unknown until set_style_image succeeds
            st.set_style_image(img)
        if fresh:
            styles[model] = ("image", style_key)
        style = style if style not in (None, "") else (st.info.style or 0)  # a named style (ember): its own
        if st.info.kind == "multi" and styles.get(model) != style:
            st.set_style(style)  # resets bound buffers: only when the style changes
            styles[model] = style
        return st

    def cached(self, key: str, factory: Callable):
        """This worker thread's object `key`, made by factory() the first time."""
        if not hasattr(self._local, "objects"):
            self._local.objects = {}
        if key not in self._local.objects:
            self._local.objects[key] = factory()
        return self._local.objects[key]

    def retry_after(self) -> int:
        return max(1, math.ceil(self._avg_s * max(1, self.pending) / self.workers))

    def reserve(self) -> None:
        """Count one more job or raise Busy; pair with `run(..., reserved=True)` or `release()`."""
        with self._lock:
            if self.pending >= self.capacity:
                raise Busy(self.retry_after())
            self.pending += 1

    def release(self) -> None:
        with self._lock:
            self.pending -= 1

    async def run(self, fn: Callable, *args, timeout: float, reserved: bool = False):
        """Run fn(pool, *args) on a worker; Busy when full, asyncio.TimeoutError after `timeout` seconds."""
        if not reserved:
            self.reserve()
        t0 = time.perf_counter()

        def job():
            return fn(self, *args)

        def finished(_):
            with self._lock:
                self.pending -= 1
                self.done += 1
                self._avg_s = 0.8 * self._avg_s + 0.2 * (time.perf_counter() - t0)

        try:
            fut = self._exec.submit(job)
        except BaseException:
            self.release()
            raise
        fut.add_done_callback(finished)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)
        except asyncio.TimeoutError:
            fut.cancel()  # drops it if still waiting; a running job finishes and frees its slot
            raise

    def stats(self) -> dict:
        return {"workers": self.workers, "capacity": self.capacity, "pending": self.pending, "done": self.done}

    def shutdown(self) -> None:
        self._exec.shutdown(wait=False, cancel_futures=True)


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def serve(config: WebConfig) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn
    from .app import create_app
    config.check()
    if not is_loopback(config.host):
        print(f"warning: listening on {config.host}: the app is reachable from other machines", file=sys.stderr)
    with socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET) as s:
        try:
            s.bind((config.host, config.port))
        except OSError as exc:
            raise UserError(f"cannot listen on {config.host}:{config.port} ({exc.strerror}); "
                            "pick another --port") from None
    from .guard import guarded_protocol, lingering_ws_class, uvicorn_http_class
    app = create_app(config)
    http = guarded_protocol(uvicorn_http_class(), config.header_timeout, config.max_connections)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False, http=http,
                ws=lingering_ws_class(), ws_max_size=ws_max_size(config),
                timeout_graceful_shutdown=5)


def ws_max_size(config: WebConfig) -> int:
    return config.max_upload_bytes * 4 // 3 + 4096  # room for a base64 style image


# -- for tests and benchmarks: the real server in a child process ------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Terminate a child process; kill it when it has not exited after `grace_s` seconds."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def spawn_server(args: List[str] = (), env: Optional[dict] = None, port: Optional[int] = None,
                 wait_s: float = 60.0, cwd: Optional[str] = None) -> Iterator[str]:
    """Start `framestyle serve` on 127.0.0.1 in a subprocess; yield its base URL; stop it afterwards."""
    import httpx
    port = port or free_port()
    cmd = [sys.executable, "-c", "from framestyle.cli import main; raise SystemExit(main())", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                            cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                out = log.read().decode(errors="replace")
                raise RuntimeError(f"server exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(url + "/api/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start within {wait_s} s")
            time.sleep(0.1)
        yield url
    finally:
        stop_process(proc)
        log.close()
