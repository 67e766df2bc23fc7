"""Headless Debian Chromium driven over the DevTools Protocol, for the browser test and bench/browser_bench.py.

    with chromium() as page:            # fake camera, fresh profile, loopback only
        page.call("Page.navigate", url=url)
        page.wait("document.body.dataset.ready === '1'")
        page.js("document.title")
"""
from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence
from .server import stop_process

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1280,1000"]
WEBGPU_FLAGS = ["--enable-unsafe-webgpu"]  # with --disable-gpu this offers SwiftShader's (CPU) WebGPU adapter


class CDP:
    """A minimal DevTools client on one page target: calls, and the events seen meanwhile."""

    def __init__(self, ws_url: str):
        from websockets.sync.client import connect
        self._conn = connect(ws_url, max_size=None, open_timeout=20)
        self.ws = self._conn.__enter__()
        self.next_id = 0
        self.events = []

    def call(self, method: str, timeout: float = 60, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def js(self, expr: str, timeout: float = 60):
        res = self.call("Runtime.evaluate", timeout=timeout, expression=expr, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expr[:200]}: {res['exceptionDetails'].get('exception', {}).get('description')}")
        return res["result"].get("value")

    def wait(self, expr: str, timeout: float = 60, what: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(expr):
                return
            time.sleep(0.2)
        status = self.js("JSON.stringify({status: document.getElementById('status').textContent, "
                         "cam: document.getElementById('cam-status').textContent})")
        raise AssertionError(f"timed out waiting for {what or expr}; page says {status}")

    def set_files(self, selector: str, path) -> None:
        doc = self.call("DOM.getDocument")
        node = self.call("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", nodeId=node, files=[str(path)])

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self):
        self._conn.__exit__(None, None, None)


@contextlib.contextmanager
def chromium(extra_flags: Sequence[str] = (), log_path=None) -> Iterator[CDP]:
    """Start headless Chromium with a fresh profile; yield a CDP client on its page; stop it afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="fs-chromium-"))
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([CHROMIUM, *FLAGS, *extra_flags, f"--user-data-dir={profile}", "about:blank"],
                            stdout=log, stderr=subprocess.STDOUT)
    cdp = None
    try:
        import httpx
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None:
                raise RuntimeError("chromium exited at start")
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        cdp = CDP(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        yield cdp
    finally:
        if cdp is not None:
            cdp.close()
        stop_process(proc)
        if log_path:
            log.close()
        shutil.rmtree(profile, ignore_errors=True)
