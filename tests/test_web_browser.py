"""The page in real headless Debian Chromium, driven over the Chrome DevTools Protocol.

Upload + stylise, the webcam on the device (onnxruntime-web WASM) and on the server (WebSocket), with Chromium's
fake camera. Screenshots go to test-artifacts/. Every request the page makes must stay on 127.0.0.1.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from framestyle.web.app import ORT_FILES, vendor_ready
from framestyle.web.server import spawn_server, stop_process
from test_web_api import PHOTO, ROOT, web_test_model

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason="needs Debian chromium: apt-get install -y chromium chromium-driver")]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1280,1000"]


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

    def js(self, expr: str):
        res = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expr}: {res['exceptionDetails'].get('exception', {}).get('description')}")
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

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        path = ARTIFACTS / name
        path.write_bytes(data)
        return path

    def close(self):
        self._conn.__exit__(None, None, None)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FRAMESTYLE_HOME", str(home))
        model, _ = web_test_model(home)
    env = {"FRAMESTYLE_HOME": str(home), "FRAMESTYLE_THREADS": "1"}
    with spawn_server(["--workers", "1", "--queue", "4", "--threads", "1"], env=env) as url:
        yield url, model


@pytest.fixture(scope="module")
def page(served, tmp_path_factory):
    url, _ = served
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = open(profile.parent / "chromium.log", "wb")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited at start"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        target = next(t for t in targets if t["type"] == "page")
        cdp = CDP(target["webSocketDebuggerUrl"])
        cdp.call("Network.enable")
        cdp.call("Page.enable")
        cdp.call("Page.navigate", url=url + "/")
        cdp.wait("document.body && document.body.dataset.ready === '1'", 30, "the page to load")
        yield cdp
        cdp.close()
    finally:
        stop_process(proc)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_upload_and_stylise(page, served):
    _, model = served
    page.js(f"document.getElementById('model').value = {json.dumps(model)}; "
            "document.getElementById('model').dispatchEvent(new Event('change')); true")
    doc = page.call("DOM.getDocument")
    node = page.call("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector="#file")["nodeId"]
    page.call("DOM.setFileInputFiles", nodeId=node, files=[str(PHOTO)])
    page.wait("!document.getElementById('go').disabled", 10, "the file to be taken")
    page.js("document.getElementById('go').click(); true")
    page.wait("document.getElementById('status').textContent === 'done'", 60, "the stylised result")
    size = page.js("[document.getElementById('result').naturalWidth, document.getElementById('result').naturalHeight]")
    assert size == [512, 384]
    assert page.js("document.getElementById('download').href.startsWith('blob:')")
    page.screenshot("web-upload.png")


def set_files(page, selector: str, path: Path) -> None:
    doc = page.call("DOM.getDocument")
    node = page.call("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector=selector)["nodeId"]
    page.call("DOM.setFileInputFiles", nodeId=node, files=[str(path)])


def test_style_image_with_a_method(page, served):
    """A style image shows the Method select (uninstalled methods disabled); upload and server webcam use it."""
    set_files(page, "#file", PHOTO)
    set_files(page, "#style-file", PHOTO.parent / "starry_night.jpg")
    page.wait("!document.getElementById('method-row').hidden", 10, "the Method select")
    options = dict(page.js("[...document.getElementById('method').options].map((o) => [o.value, o.disabled])"))
    methods = {e["name"]: e for e in httpx.get(served[0] + "/api/models").json()["methods"]}
    assert options == {k: not e["available"] for k, e in methods.items()}
    assert page.js("document.getElementById('method').value") == "magenta"  # the CLI default
    assert page.js("document.getElementById('model').disabled")
    page.js("document.getElementById('method').value = 'student'; document.getElementById('go').click(); true")
    page.wait("document.getElementById('status').textContent === 'done'", 60, "the stylised result")
    assert page.js("document.getElementById('result-info').textContent").startswith("student, 512x384")
    page.js("document.querySelector('input[name=mode][value=device]').checked = true; "
            "document.querySelector('input[name=mode][value=device]').dispatchEvent(new Event('change')); true")
    assert "needs the server" in page.js("document.getElementById('style-note').textContent")
    assert not page.js("document.getElementById('style-note').hidden")
    status = run_camera(page, "server", served[1], "web-webcam-server-style.png")
    assert status.startswith("server: student + style image") and "ms/frame" in status, status
    page.js("document.getElementById('style-clear').click(); true")
    assert page.js("document.getElementById('method-row').hidden && !document.getElementById('model').disabled")


def frames() -> str:
    return "Number(document.getElementById('frames').textContent)"


def canvas_mean(page) -> float:
    return page.js("(() => { const c = document.getElementById('out'); "
                   "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; "
                   "let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i+1] + d[i+2]; "
                   "return s / (d.length / 4 * 3); })()")


def run_camera(page, mode: str, model: str, shot: str) -> str:
    page.js(f"document.querySelector('input[name=mode][value={mode}]').checked = true; "
            "document.querySelector('input[name=mode][value=%s]').dispatchEvent(new Event('change')); "
            "document.getElementById('live-size').value = '160x120'; "
            f"document.getElementById('live-model').value = {json.dumps(model)}; true" % mode)
    assert page.js("document.getElementById('live-model').value") == model
    page.js("document.getElementById('cam-start').click(); true")
    page.wait(f"{frames()} >= 5", 90, f"5 frames in {mode} mode")
    time.sleep(1.0)
    status = page.js("document.getElementById('cam-status').textContent")
    fps = float(page.js("document.getElementById('fps').textContent"))
    mean = canvas_mean(page)
    page.screenshot(shot)
    page.js("document.getElementById('cam-stop').click(); true")
    assert fps > 0 and 5 < mean < 250, (fps, mean)   # frames drawn, not a blank canvas
    return status


def test_webcam_on_device(page, served):
    if not vendor_ready(ORT_FILES):
        assert "fetch_web_assets" in page.js("document.getElementById('device-note').textContent")
        pytest.skip("onnxruntime-web files absent: run scripts/fetch_web_assets.sh")
    status = run_camera(page, "device", served[1], "web-webcam-device.png")
    assert "on device" in status and "wasm" in status


def test_webcam_on_server(page, served):
    status = run_camera(page, "server", served[1], "web-webcam-server.png")
    assert status.startswith("server: ") and "ms/frame" in status


def test_page_stays_on_loopback(page, served):
    url, _ = served
    urls = [e["params"]["request"]["url"] for e in page.events if e["method"] == "Network.requestWillBeSent"]
    assert any(u.endswith("/api/models") for u in urls)
    outside = [u for u in urls if not u.startswith((url, url.replace("http", "ws"), "blob:", "data:"))]
    assert outside == []


def test_docs_page_renders_offline(page, served):
    url, _ = served
    if not vendor_ready(("swagger/swagger-ui-bundle.js", "swagger/swagger-ui.css")):
        pytest.skip("Swagger UI files absent: run scripts/fetch_web_assets.sh")
    page.call("Page.navigate", url=url + "/docs")
    page.wait("document.querySelectorAll('.opblock').length >= 3", 30, "Swagger UI to list the operations")
    assert page.js("document.body.innerText.includes('/api/stylize')")
    page.screenshot("web-docs.png")
    test_page_stays_on_loopback(page, served)
