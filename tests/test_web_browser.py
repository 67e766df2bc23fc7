"""The page in real headless Debian Chromium, driven over the Chrome DevTools Protocol.

Upload + stylise, the webcam on the device (onnxruntime-web WASM) and on the server (WebSocket), with Chromium's
fake camera. Screenshots go to test-artifacts/. Every request the page makes must stay on 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from framestyle.web.app import ORT_FILES, vendor_ready
from framestyle.web.headless import CHROMIUM, chromium
from framestyle.web.server import spawn_server
from test_web_api import PHOTO, ROOT, web_home

ARTIFACTS = ROOT / "test-artifacts"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason="needs Debian chromium: apt-get install -y chromium chromium-driver")]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    e = web_home(tmp_path_factory)
    with spawn_server(["--workers", "1", "--queue", "4", "--threads", "1"], env=e["env"]) as url:
        yield url, e["model"]


@contextlib.contextmanager
def open_page(url: str, tmp_path_factory, before: str = ""):
    """Chromium on the page at `url`; `before` runs in the page before its own scripts (e.g. to take a feature
    away)."""
    log = tmp_path_factory.mktemp("chromium-log") / "chromium.log"
    with chromium(log_path=log) as cdp:
        cdp.call("Network.enable")
        cdp.call("Page.enable")
        if before:
            cdp.call("Page.addScriptToEvaluateOnNewDocument", source=before)
        cdp.call("Page.navigate", url=url + "/")
        cdp.wait("document.body && document.body.dataset.ready === '1'", 30, "the page to load")
        yield cdp


@pytest.fixture(scope="module")
def page(served, tmp_path_factory):
    with open_page(served[0], tmp_path_factory) as cdp:
        yield cdp


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
    page.screenshot(ARTIFACTS / "web-upload.png")


def set_files(page, selector: str, path: Path) -> None:
    page.set_files(selector, path)


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
    models = httpx.get(served[0] + "/api/models").json()["models"]
    student = methods["student"]["model"]
    assert any(m["name"] == student and m["browser"] for m in models)
    assert student in page.js("document.getElementById('style-note').textContent")
    assert not page.js("document.getElementById('style-note').hidden")
    assert page.js("document.getElementById('live-model').value") == student  # the student paints the style image
    if vendor_ready(ORT_FILES):  # on the device: style vector from the server once, every frame in the page
        status = run_camera(page, "device", student, "web-webcam-device-style.png")
        assert status.startswith(f"on device: {student}"), status
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
    page.screenshot(ARTIFACTS / shot)
    page.js("document.getElementById('cam-stop').click(); true")
    assert fps > 0 and 5 < mean < 250, (fps, mean)   # frames drawn, not a blank canvas
    return status


def test_webcam_on_device(page, served):
    """The zoo's int8 default runs in the page with WebAssembly threads (the page is cross-origin isolated)."""
    if not vendor_ready(ORT_FILES):
        assert "fetch_web_assets" in page.js("document.getElementById('device-note').textContent")
        pytest.skip("onnxruntime-web files absent: run scripts/fetch_web_assets.sh")
    default = httpx.get(served[0] + "/api/info").json()["default_model"]
    cores = page.js("navigator.hardwareConcurrency")
    if cores < 2:
        pytest.skip("one core: WebAssembly threads cannot exceed 1")
    assert page.js("self.crossOriginIsolated && typeof SharedArrayBuffer === 'function'")
    status = run_camera(page, "device", default, "web-webcam-device.png")
    dev = page.js("window.framestyle.device")
    assert (dev["model"], dev["backend"], dev["form"], dev["threads"]) == (default, "wasm", "rgba", min(cores, 8))
    assert f"wasm {dev['threads']} threads" in status
    assert float(page.js("document.getElementById('model-ms').textContent")) > 0
    assert page.js("document.getElementById('device-info').textContent") == f"wasm, {dev['threads']} threads"


def test_webcam_on_device_multi_style(page, served):
    """A multi-style model on the device: the server folds style 7 of multi26 into a fixed int8 graph, the page
    runs it like the default (wasm, RGBA form, threads) and draws frames; a new Style swaps the graph while it runs."""
    if not vendor_ready(ORT_FILES):
        pytest.skip("onnxruntime-web files absent: run scripts/fetch_web_assets.sh")
    page.js("document.querySelector('input[name=mode][value=device]').checked = true; "
            "document.querySelector('input[name=mode][value=device]').dispatchEvent(new Event('change')); "
            "document.getElementById('live-model').value = 'multi26'; "
            "document.getElementById('live-model').dispatchEvent(new Event('change')); "
            "document.getElementById('live-size').value = '160x120'; "
            "document.getElementById('style-index').value = '7'; "
            "document.getElementById('cam-start').click(); true")
    assert not page.js("document.getElementById('style-index-row').hidden")
    page.wait(f"{frames()} >= 5", 90, "5 frames of multi26 style 7")
    dev = page.js("window.framestyle.device")
    threads = min(page.js("navigator.hardwareConcurrency"), 8)
    assert (dev["model"], dev["style"], dev["specialised"], dev["backend"], dev["form"], dev["threads"]) == \
        ("multi26", "7", True, "wasm", "rgba", threads)
    status = page.js("document.getElementById('cam-status').textContent")
    assert status.startswith(f"on device: multi26 style 7 160x120, wasm {threads} thread"), status
    assert float(page.js("document.getElementById('fps').textContent")) > 0
    assert page.js("document.getElementById('device-info').textContent").startswith(f"wasm, {threads} thread")
    seven = canvas_mean(page)
    page.js("document.getElementById('style-index').value = '19'; true")
    page.wait("window.framestyle.device.style === '19'", 90, "the page to swap to style 19")
    n = page.js(frames())
    page.wait(f"{frames()} >= {n + 3}", 60, "frames of style 19")
    page.screenshot(ARTIFACTS / "web-webcam-device-multi26.png")
    assert abs(canvas_mean(page) - seven) > 10  # another style drawn (measured: mean 63 for style 7, 111 for 19)
    page.js("document.getElementById('cam-stop').click(); true")


def test_webcam_on_device_with_one_thread(served, tmp_path_factory):
    """Without SharedArrayBuffer (threads unavailable) the page runs the default on one thread; fresh page: the
    device Model select starts on the zoo's default."""
    if not vendor_ready(ORT_FILES):
        pytest.skip("onnxruntime-web files absent: run scripts/fetch_web_assets.sh")
    default = httpx.get(served[0] + "/api/info").json()["default_model"]
    with open_page(served[0], tmp_path_factory, before="delete self.SharedArrayBuffer;") as page:
        page.js("document.querySelector('input[name=mode][value=device]').click(); true")
        assert page.js("document.getElementById('live-model').value") == default
        status = run_camera(page, "device", default, "web-webcam-device-1thread.png")
        assert page.js("window.framestyle.device.threads") == 1 and "wasm 1 thread," in status, status


def test_page_works_without_vendor_assets(served, tmp_path_factory):
    """No onnxruntime-web files: server mode is preselected and runs; on-device mode is off with the hint."""
    empty = tmp_path_factory.mktemp("no-vendor")
    home = tmp_path_factory.mktemp("home-nv")
    env = {"FRAMESTYLE_HOME": str(home), "FRAMESTYLE_THREADS": "1", "FRAMESTYLE_WEB_VENDOR": str(empty)}
    with spawn_server(["--threads", "1"], env=env) as url:
        assert httpx.get(url + "/api/info").json()["on_device"] is False
        assert httpx.get(url + "/static/vendor/ort.wasm.min.js").status_code == 404
        with open_page(url, tmp_path_factory) as page:
            assert page.js("document.querySelector('input[name=mode][value=server]').checked")
            assert page.js("document.querySelector('input[name=mode][value=device]').disabled")
            assert "fetch_web_assets" in page.js("document.getElementById('device-note').textContent")
            status = run_camera(page, "server", served[1], "web-webcam-server-novendor.png")
            assert status.startswith("server: ") and "ms/frame" in status


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
    page.screenshot(ARTIFACTS / "web-docs.png")
    test_page_stays_on_loopback(page, served)
