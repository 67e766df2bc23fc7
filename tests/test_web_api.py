"""`framestyle serve` end to end: the real server in a subprocess on 127.0.0.1, driven with httpx and websockets."""
from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from framestyle.web.server import free_port, spawn_server

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FRAMESTYLE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "images"
PHOTO = DATA / "home.jpg"   # 512x384
BUILTIN = ROOT / "framestyle" / "zoo" / "builtin"


def web_test_model(home: Path) -> tuple:
    """(name, path): the default model (what the page selects), else a built-in fixed-style model, else a tiny
    random-weight student put in `home`'s user zoo."""
    from framestyle.zoo import default_model, get_model
    m = get_model(default_model())
    if m.kind == "fixed" and m.path.exists():
        return m.name, m.path
    for card in sorted(BUILTIN.glob("*.json")):
        info = json.loads(card.read_text())
        if info.get("kind", "fixed") == "fixed" and card.with_suffix(".onnx").exists():
            return info.get("name") or card.stem, card.with_suffix(".onnx")
    import torch
    from framestyle.export.onnx import export_onnx
    from framestyle.nets import build
    from framestyle.zoo import add_user_model
    torch.manual_seed(0)
    export_onnx(build("fast", alpha=0.34, blocks=2), home / "tiny.onnx")
    m = add_user_model(home / "tiny.onnx", "tiny-web-test", {"kind": "fixed", "input": {"multiple": 4}})
    return m.name, m.path


def web_home(tmp_path_factory) -> dict:
    """A fresh FRAMESTYLE_HOME with the web test model in it: home, model, path, and the server's env."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FRAMESTYLE_HOME", str(home))
        model, path = web_test_model(home)
    return {"home": home, "model": model, "path": path,
            "env": {"FRAMESTYLE_HOME": str(home), "FRAMESTYLE_THREADS": "1"}}


def jpeg_bytes(w: int, h: int, quality: int = 90) -> bytes:
    img = Image.open(PHOTO).convert("RGB").resize((w, h))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = web_home(tmp_path_factory)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FRAMESTYLE_HOME", str(e["home"]))
        yield e


@pytest.fixture(scope="module")
def server(env, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cwd")
    args = ["--workers", "1", "--queue", "4", "--max-upload-mb", "1", "--max-pixels", "300000", "--threads", "1"]
    with spawn_server(args, env=env["env"], cwd=str(cwd)) as url:
        yield url
    assert list(cwd.iterdir()) == [], "the server wrote into its working directory"


def post(url, files, **data):
    return httpx.post(url + "/api/stylize", files=files, data=data, timeout=60)


def test_good_image_returns_png_of_same_size(server, env):
    r = post(server, {"image": ("home.jpg", PHOTO.read_bytes(), "image/jpeg")}, model=env["model"],
             strength="0.8", preserve_color="true")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(r.content))
    assert out.format == "PNG" and out.size == (512, 384)
    src = np.asarray(Image.open(PHOTO).convert("RGB"), np.float32)
    assert np.abs(np.asarray(out.convert("RGB"), np.float32) - src).mean() > 1.0  # it did something
    r = post(server, {"image": ("x.png", jpeg_bytes(100, 60), "application/octet-stream")}, model=env["model"],
             format="jpeg")
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
    assert Image.open(io.BytesIO(r.content)).size == (100, 60)


def test_multi_style_model_takes_a_style_index(server):
    r = post(server, {"image": ("a.jpg", jpeg_bytes(128, 96), "image/jpeg")}, model="multistyle26", style="7")
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(r.content)).size == (128, 96)
    r = post(server, {"image": ("a.jpg", jpeg_bytes(128, 96), "image/jpeg")}, model="multistyle26", style="99")
    assert r.status_code == 400 and "error" in r.json()


def test_a_named_style_runs_its_own_style(server):
    """ember is multi26's style 5: with no style it returns style 5 (not style 0); another style is a 400."""
    from framestyle import Stylizer
    img = jpeg_bytes(128, 96)
    r = post(server, {"image": ("a.jpg", img, "image/jpeg")}, model="ember")
    assert r.status_code == 200, r.text
    got = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), np.float32)
    x = np.asarray(Image.open(io.BytesIO(img)).convert("RGB"))
    for style, same in ((5, True), (0, False)):
        want = Stylizer("multi26", style=style, threads=1).stylize(x).astype(np.float32)
        assert (np.abs(got - want).mean() < 1.0) == same, style
    r = post(server, {"image": ("a.jpg", img, "image/jpeg")}, model="ember", style="3")
    assert r.status_code == 400 and "multi26" in r.json()["error"]


def test_arbitrary_model_takes_a_style_image(server):
    buf = io.BytesIO()
    Image.open(DATA / "starry_night.jpg").convert("RGB").resize((256, 204)).save(buf, "PNG")
    r = post(server, {"image": ("a.jpg", jpeg_bytes(160, 120), "image/jpeg"),
                      "style_image": ("s.png", buf.getvalue(), "image/png")},
             model="magenta", strength="0.7", format="jpeg")
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(r.content)).size == (160, 120)


def starry_png(w: int = 256, h: int = 204) -> bytes:
    buf = io.BytesIO()
    Image.open(DATA / "starry_night.jpg").convert("RGB").resize((w, h)).save(buf, "PNG")
    return buf.getvalue()


def test_method_picks_the_arbitrary_engine(server):
    """A real photo + starry_night: student, magenta and adain all stylise it, differently; no method = magenta."""
    photo, style = jpeg_bytes(160, 120), starry_png()
    outs = {}
    for method in ("student", "magenta", "adain", None):
        r = post(server, {"image": ("home.jpg", photo, "image/jpeg"), "style_image": ("s.png", style, "image/png")},
                 **({"method": method} if method else {}))
        assert r.status_code == 200, (method, r.text)
        img = Image.open(io.BytesIO(r.content))
        assert img.format == "PNG" and img.size == (160, 120)
        outs[method] = np.asarray(img.convert("RGB"), np.float32)
    src = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"), np.float32)
    assert all(np.abs(outs[m] - src).mean() > 3 for m in ("student", "magenta", "adain"))
    for a, b in (("student", "magenta"), ("adain", "magenta"), ("adain", "student")):
        assert np.abs(outs[a] - outs[b]).mean() > 2, (a, b)  # three engines, three pictures
    assert np.array_equal(outs[None], outs["magenta"])


def with_style(method=None, model=None, style=True):
    files = {"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")}
    if style:
        files["style_image"] = ("s.jpg", jpeg_bytes(64, 48), "image/jpeg")
    data = {k: v for k, v in (("method", method), ("model", model)) if v}
    return files, data


BAD = [
    ("empty", lambda m: ({"image": ("e.jpg", b"", "image/jpeg")}, {"model": m}), 400, "empty"),
    ("corrupt", lambda m: ({"image": ("c.jpg", b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50, "image/jpeg")},
                           {"model": m}), 400, "not a readable image"),
    ("truncated", lambda m: ({"image": ("t.jpg", jpeg_bytes(200, 150)[:700], "image/jpeg")}, {"model": m}),
     400, "image"),
    ("text type", lambda m: ({"image": ("a.txt", b"hello world " * 10, "text/plain")}, {"model": m}),
     415, "content type"),
    ("wrong magic", lambda m: ({"image": ("a.png", b"GIF89a" + b"\x00" * 100, "image/png")}, {"model": m}),
     415, "not a JPEG"),
    ("too many bytes", lambda m: ({"image": ("big.jpg", b"\xff\xd8\xff" + os.urandom(1_200_000), "image/jpeg")},
                                  {"model": m}), 413, "limit"),
    ("too many pixels", lambda m: ({"image": ("wide.jpg", jpeg_bytes(700, 500, 50), "image/jpeg")},
                                   {"model": m}), 413, "MP"),
    ("too small", lambda m: ({"image": ("s.jpg", jpeg_bytes(8, 8), "image/jpeg")}, {"model": m}), 400, "small"),
    ("strength > 1", lambda m: ({"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                                {"model": m, "strength": "1.5"}), 422, "strength"),
    ("strength text", lambda m: ({"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                                 {"model": m, "strength": "lots"}), 422, "strength"),
    ("unknown model", lambda m: ({"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")}, {"model": "nope"}),
     404, "unknown model"),
    ("no image", lambda m: ({"other": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")}, {"model": m}), 422, "image"),
    ("style image on fixed model", lambda m: ({"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg"),
                                               "style_image": ("s.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                                              {"model": m}), 400, "fixed style"),
    ("arbitrary without style", lambda m: ({"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                                           {"model": "magenta"}), 400, "style_image"),
    ("bad format", lambda m: ({"image": ("a.jpg", jpeg_bytes(64, 48), "image/jpeg")},
                              {"model": m, "format": "gif"}), 422, "format"),
    ("unknown method", lambda m: with_style("fancy"), 422, "method"),
    ("method without style image", lambda m: with_style("student", style=False), 400, "style_image"),
    ("method with a fixed model", lambda m: with_style("student", m), 400, "fixed style"),
    ("method and model disagree", lambda m: with_style("student", "magenta"), 400, "not 'student'"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_uploads_get_status_and_json_error(server, env, case):
    _, make, status, words = case
    files, data = make(env["model"])
    r = post(server, files, **data)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and words in body["error"], body


def test_body_over_limit_is_refused_before_parsing(server):
    big = b"x" * (3 * 1024 * 1024)   # > 2 x 1 MB + 256 KB
    r = httpx.post(server + "/api/stylize", content=big, headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "limit" in r.json()["error"]

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(12):
            yield b"y" * (256 * 1024)
    r = httpx.post(server + "/api/stylize", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_models_info_schema_and_model_files(server, env):
    models = {m["name"]: m for m in httpx.get(server + "/api/models").json()["models"]}
    assert models[env["model"]]["kind"] == "fixed" and models[env["model"]]["browser"] is True
    assert models["multistyle26"]["kind"] == "multi" and models["magenta"]["kind"] == "arbitrary"
    assert set(models["magenta"]) >= {"name", "kind", "builtin", "teacher", "method"}
    from framestyle.zoo import default_model
    assert [n for n, m in models.items() if m["default"]] == [default_model()]  # the page selects this one
    methods = {e["name"]: e for e in httpx.get(server + "/api/models").json()["methods"]}
    assert set(methods) == {"magenta", "student", "adain"} and methods["magenta"]["default"]
    for e in methods.values():  # available exactly when the method's model is in the zoo listing
        assert e["available"] == (e["model"] in models and models[e["model"]]["method"] == e["name"]), e
    assert all(e["available"] for e in methods.values())  # all three engines ship with the package
    r = httpx.get(f"{server}/models/{env['model']}.onnx")
    assert r.status_code == 200 and len(r.content) > 1000
    assert r.content == env["path"].read_bytes()
    r = httpx.get(server + "/models/multistyle26.onnx")
    assert r.status_code == 404 and "fixed-style" in r.json()["error"]
    assert httpx.get(server + "/models/..%2F..%2Fetc%2Fpasswd.onnx").status_code == 404
    schema = httpx.get(server + "/openapi.json").json()
    assert "/api/stylize" in schema["paths"] and "/api/models" in schema["paths"]
    info = httpx.get(server + "/api/info").json()
    assert info["max_upload_bytes"] == 1024 * 1024 and info["max_pixels"] == 300000
    docs = httpx.get(server + "/docs")
    assert docs.status_code == (200 if info["docs"] else 404)
    if info["docs"]:
        assert "/static/vendor/swagger/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
        assert httpx.get(server + "/static/vendor/swagger/swagger-ui-bundle.js").status_code == 200
    page = httpx.get(server + "/")
    assert page.status_code == 200 and 'id="frames"' in page.text and "http" not in page.text.split("<body>")[0]
    assert httpx.get(server + "/nothing").json() == {"error": "not found: /nothing"}


def ws_url(server, **q):
    return server.replace("http://", "ws://") + "/ws/stylize?" + "&".join(f"{k}={v}" for k, v in q.items())


def test_websocket_round_trip(server, env):
    from websockets.sync.client import connect
    with connect(ws_url(server, model=env["model"], strength="0.9"), open_timeout=10) as ws:
        for _ in range(2):
            ws.send(jpeg_bytes(320, 240))
            meta = json.loads(ws.recv(timeout=30))
            assert "error" not in meta, meta
            out = ws.recv(timeout=30)
            assert isinstance(out, bytes) and out[:3] == b"\xff\xd8\xff"
            assert Image.open(io.BytesIO(out)).size == (320, 240)
        ws.send(b"not an image at all")
        assert "not a JPEG" in json.loads(ws.recv(timeout=30))["error"]
        ws.send('{"strength": 7}')
        assert "strength" in json.loads(ws.recv(timeout=30))["error"]
    with connect(ws_url(server, model="nope"), open_timeout=10) as ws:
        assert "unknown model" in json.loads(ws.recv(timeout=10))["error"]
        from websockets.exceptions import ConnectionClosed
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1008


def test_websocket_style_image_and_method(server, env):
    """Server webcam with a style image: the method runs once the picture arrives; null goes back to the model."""
    import base64
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    frame = jpeg_bytes(160, 120)

    def one(ws):
        ws.send(frame)
        meta = json.loads(ws.recv(timeout=60))
        assert "error" not in meta, meta
        out = Image.open(io.BytesIO(ws.recv(timeout=60)))
        assert out.size == (160, 120)
        return np.asarray(out.convert("RGB"), np.float32)

    with connect(ws_url(server, model=env["model"], method="student"), open_timeout=10) as ws:
        fixed = one(ws)
        ws.send(json.dumps({"style_image": "data:image/png;base64," + base64.b64encode(starry_png()).decode()}))
        student = one(ws)
        ws.send(json.dumps({"method": "magenta"}))
        magenta = one(ws)
        ws.send(json.dumps({"method": "adain"}))
        adain = one(ws)
        ws.send(json.dumps({"style_image": "%%%"}))
        assert "base64" in json.loads(ws.recv(timeout=30))["error"]
        ws.send(json.dumps({"style_image": None}))
        assert np.array_equal(one(ws), fixed)
    assert np.abs(student - fixed).mean() > 2 and np.abs(student - magenta).mean() > 2
    assert np.abs(adain - student).mean() > 2 and np.abs(adain - magenta).mean() > 2
    with connect(ws_url(server, model="magenta"), open_timeout=10) as ws:  # arbitrary model: waits for a style
        ws.send(frame)
        assert "style image first" in json.loads(ws.recv(timeout=30))["error"]
    for q, words in (({"method": "fancy"}, "unknown method"),):
        with connect(ws_url(server, model=env["model"], **q), open_timeout=10) as ws:
            assert words in json.loads(ws.recv(timeout=10))["error"]
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 1008


def test_websocket_drops_stale_frames(server):
    """A burst of frames at a slow model: only the newest waiting frame is processed, the last one always."""
    from websockets.sync.client import connect
    n = 20
    frame = jpeg_bytes(384, 288)  # multistyle26: tens of ms per frame, far slower than the burst arrives
    with connect(ws_url(server, model="multistyle26", style="3"), open_timeout=10) as ws:
        for _ in range(n):
            ws.send(frame)
        seqs, meta = [], {}
        while not seqs or seqs[-1] != n - 1:
            meta = json.loads(ws.recv(timeout=60))
            assert "error" not in meta, meta
            seqs.append(meta["seq"])
            assert Image.open(io.BytesIO(ws.recv(timeout=60))).size == (384, 288)
    assert seqs == sorted(seqs) and seqs[-1] == n - 1
    assert meta["received"] == n and meta["processed"] == len(seqs)
    assert meta["dropped"] > 0 and meta["processed"] + meta["dropped"] == n


@pytest.fixture(scope="module")
def slow_server(env, tmp_path_factory):
    args = ["--workers", "1", "--queue", "1", "--timeout", "1.5", "--threads", "1"]
    with spawn_server(args, env=env["env"]) as url:
        yield url


def test_queue_full_gives_429_with_retry_after(slow_server):
    body = jpeg_bytes(640, 480)

    async def burst():
        async with httpx.AsyncClient(timeout=60) as c:
            return await asyncio.gather(*[
                c.post(slow_server + "/api/stylize", files={"image": ("a.jpg", body, "image/jpeg")},
                       data={"model": "multistyle26"}) for _ in range(6)])
    rs = asyncio.run(burst())
    codes = sorted(r.status_code for r in rs)
    assert set(codes) <= {200, 429, 504}, codes
    busy = [r for r in rs if r.status_code == 429]
    assert len(busy) >= 3, codes   # capacity is 1 running + 1 waiting
    for r in busy:
        assert int(r.headers["Retry-After"]) >= 1 and "busy" in r.json()["error"]


def test_slow_request_times_out_with_504(slow_server):
    import time
    deadline = time.monotonic() + 30
    while httpx.get(slow_server + "/api/health").json()["pending"] and time.monotonic() < deadline:
        time.sleep(0.1)
    r = post(slow_server, {"image": ("big.jpg", jpeg_bytes(2000, 1500, 80), "image/jpeg")}, model="multistyle26")
    assert r.status_code == 504 and "longer than 1.5 s" in r.json()["error"]


def test_serve_refuses_a_busy_port(env):
    import socket
    from framestyle.cli import main
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["serve", "--port", str(s.getsockname()[1])]) == 2
    assert main(["serve", "--port", str(free_port()), "--queue", "-1"]) == 2


def test_slow_body_gets_408(slow_server):
    import time

    def trickle():
        yield b"--b\r\n"
        time.sleep(2.5)  # longer than the server's 1.5 s --timeout
        yield b"--b--\r\n"
    try:
        r = httpx.post(slow_server + "/api/stylize", content=trickle(), timeout=30,
                       headers={"content-type": "multipart/form-data; boundary=b"})
    except httpx.HTTPError as exc:  # the server may close before the client finishes writing
        pytest.fail(f"no answer: {exc!r}")
    assert r.status_code == 408 and "not received within 1.5 s" in r.json()["error"]


def test_method_whose_model_is_missing_is_a_clear_400(monkeypatch):
    """In process: a method pointing at a model that is not in the zoo answers 400 with the install hint."""
    from framestyle.web import methods as M
    from framestyle.web.uploads import HTTPError
    monkeypatch.setitem(M.METHOD_MODELS, "adain", "no-such-adain")
    entry = next(e for e in M.method_entries(__import__("framestyle.zoo", fromlist=["x"]).list_models())
                 if e["name"] == "adain")
    assert not entry["available"] and entry["hint"]
    with pytest.raises(HTTPError) as e:
        M.method_model("adain")
    assert e.value.status == 400 and "not installed" in str(e.value)
