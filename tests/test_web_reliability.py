"""The server under hostile clients: half-open connections, slow bodies, oversized WebSocket messages, bad query
parameters and models that are not image models. The real server in a subprocess on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import not_a_style_model
from framestyle.web.server import spawn_server
from test_web_api import jpeg_bytes, web_home


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    e = web_home(tmp_path_factory)
    home, model = e["home"], e["model"]
    (home / "models").mkdir(exist_ok=True)
    for kind in ("vector", "grey"):  # dropped into the user zoo as a user might (no `models add` check)
        not_a_style_model(home / "models" / f"bad-{kind}.onnx", kind)
    args = ["--workers", "1", "--queue", "2", "--threads", "1", "--max-upload-mb", "1", "--timeout", "20",
            "--header-timeout", "1.5", "--max-connections", "64"]
    with spawn_server(args, env=e["env"]) as url:
        yield url, model


def half_open(url: str, n: int) -> list:
    host, port = url.rsplit("/", 1)[-1].split(":")
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        socks.append(s)
    return socks


def closed_by_server(s: socket.socket) -> bool:
    s.settimeout(0.05)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:  # reset
        return True


def test_health_answers_json_while_300_connections_hang(served):
    url, _ = served
    socks = half_open(url, 300)
    try:
        codes, t0 = [], time.monotonic()
        while time.monotonic() - t0 < 1.2:  # within the 1.5 s header timeout: all 300 are still hanging
            r = httpx.get(url + "/api/health", timeout=5)
            codes.append((r.status_code, r.headers["content-type"], r.json()["ok"]))
        assert set(codes) == {(200, "application/json", True)}, set(codes)
        assert len(codes) >= 3
        # the cap (64) dropped the oldest half-open ones at once; the header timeout drops the rest
        assert sum(closed_by_server(s) for s in socks) >= 300 - 64
        time.sleep(2.0)
        assert all(closed_by_server(s) for s in socks)
    finally:
        for s in socks:
            s.close()


def test_slow_bodies_beyond_the_limit_get_json_503_and_health_still_answers(served):
    url, model = served
    host, port = url.rsplit("/", 1)[-1].split(":")
    socks = []
    try:
        for _ in range(64):  # headers done, body never sent: 56 hold a request in progress, 8 get 503
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"POST /api/stylize HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                      b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b")
            socks.append(s)
        time.sleep(0.3)
        r = httpx.post(url + "/api/stylize", files={"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                       data={"model": model}, timeout=10)
        assert r.status_code == 503 and "busy" in r.json()["error"] and r.headers["Retry-After"] == "1"
        h = httpx.get(url + "/api/health", timeout=5)
        assert h.status_code == 200 and h.json()["ok"]
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 10  # the server sees them go: requests are served again
    while httpx.get(url + "/api/info", timeout=5).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(url + "/api/info", timeout=5).status_code == 200


def ws_url(url: str, **q) -> str:
    return url.replace("http://", "ws://") + "/ws/stylize?" + "&".join(f"{k}={v}" for k, v in q.items())


@pytest.mark.parametrize("fragments", [1, 4])
def test_oversized_websocket_message_gets_close_1009_with_a_reason(served, fragments):
    url, model = served
    with connect(ws_url(url, model=model), open_timeout=10, max_size=None) as ws:
        big = b"\xff\xd8\xff" + b"x" * (3 << 20)  # over 4/3 x 1 MB
        try:
            ws.send(big if fragments == 1 else iter([big[i::fragments] for i in range(fragments)]))
            ws.recv(timeout=10)
        except ConnectionClosed:
            pass
        assert ws.protocol.close_rcvd is not None, "no close frame from the server"
        assert ws.protocol.close_rcvd.code == 1009 and "exceeds limit" in ws.protocol.close_rcvd.reason


@pytest.mark.parametrize("query, words", [({"quality": "abc"}, "quality: expected an integer"),
                                          ({"strength": "lots"}, "strength"),
                                          ({"model": "multistyle26", "style": "abc"}, "style"),
                                          ({"model": "bad-vector"}, "model unusable")])
def test_bad_websocket_query_gets_json_error_and_close_1008(served, query, words):
    url, _ = served
    with connect(ws_url(url, **query), open_timeout=10) as ws:
        msg = json.loads(ws.recv(timeout=10))
        assert words in msg["error"] and "invalid literal" not in msg["error"], msg
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1008


def test_a_model_that_is_not_an_image_model_is_a_4xx(served):
    url, _ = served
    r = httpx.post(url + "/api/stylize", files={"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                   data={"model": "bad-vector"}, timeout=30)
    assert r.status_code == 400 and r.json()["error"].startswith("model unusable: bad-vector.onnx"), r.text
    assert "/" not in r.json()["error"].split(":")[1]  # names the file, not the server's folders


def test_a_model_with_a_grey_output_is_refused_on_load(served):
    """A grey-output model fails the shared model check: the WebSocket closes with 1008 (after an error message
    when the client got one in), the HTTP API answers 400, and the server keeps serving."""
    url, _ = served
    got = []
    with pytest.raises(ConnectionClosed):
        with connect(ws_url(url, model="bad-grey"), open_timeout=10) as ws:
            ws.send(jpeg_bytes(64, 48))
            got.append(json.loads(ws.recv(timeout=90)))
            ws.recv(timeout=60)
    assert all("error" in m for m in got), got
    assert ws.close_code == 1008, ws.close_code
    r = httpx.post(url + "/api/stylize", files={"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                   data={"model": "bad-grey"}, timeout=30)
    assert r.status_code == 400 and "error" in r.json(), r.text
    assert httpx.get(url + "/api/health", timeout=10).status_code == 200


def test_the_guard_also_holds_on_uvicorns_h11_protocol():
    """In process, on h11 (uvicorn's fallback when httptools is absent): cap and header deadline, health 200."""
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from framestyle.web.app import create_app
    from framestyle.web.guard import guarded_protocol
    from framestyle.web.server import WebConfig, free_port
    port, http = free_port(), guarded_protocol(H11Protocol, 1.0, 16)
    server = uvicorn.Server(uvicorn.Config(create_app(WebConfig(max_connections=16)), host="127.0.0.1", port=port,
                                           log_level="warning", http=http))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    socks = half_open(url, 40)
    try:
        with httpx.Client(timeout=5) as c:  # one kept-alive connection and fresh ones
            codes = {c.get(url + "/api/health").status_code for _ in range(5)}
        codes |= {httpx.get(url + "/api/health", timeout=5).status_code for _ in range(5)}
        assert codes == {200} and http.stats["evicted"] >= 40 - 16
        time.sleep(1.5)
        assert all(closed_by_server(s) for s in socks) and http.stats["header_timeouts"] >= 1
    finally:
        for s in socks:
            s.close()
        server.should_exit = True
        thread.join(10)
