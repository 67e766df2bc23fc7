"""What the page needs to stylise on the device: the zoo's default named by the server, cross-origin isolation
headers, model files in their browser forms (checked against the Python runtime on a real photo) and the
style vector for the any-painting student."""
from __future__ import annotations

import httpx
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from framestyle.web.server import spawn_server
from test_web_api import DATA, PHOTO


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with spawn_server(["--threads", "1"], env={"FRAMESTYLE_HOME": str(home), "FRAMESTYLE_THREADS": "1"}) as url:
        yield url


def photo(w=320, h=240):
    from PIL import Image
    return np.asarray(Image.open(PHOTO).convert("RGB").resize((w, h)))


def test_the_server_names_the_zoo_default_and_isolates_the_page(server):
    from framestyle.zoo.registry import DEFAULT_MODEL
    info = httpx.get(server + "/api/info", timeout=60).json()
    assert info["default_model"] == DEFAULT_MODEL
    models = {m["name"]: m for m in httpx.get(server + "/api/models", timeout=60).json()["models"]}
    assert models[DEFAULT_MODEL]["browser"]
    assert [m["name"] for m in models.values() if m["browser"] and m["kind"] == "arbitrary"] == \
        [n for n, m in models.items() if m["method"] == "student"]
    for path in ("/", "/static/app.js", f"/models/{DEFAULT_MODEL}.onnx", "/api/info"):
        h = httpx.get(server + path, timeout=60).headers
        assert (h["cross-origin-opener-policy"], h["cross-origin-embedder-policy"],
                h["cross-origin-resource-policy"]) == ("same-origin", "require-corp", "same-origin"), path


def test_rgba_form_gives_the_python_runtime_bytes(server):
    """The default int8 model's RGBA graph: the frame's bytes in, the same bytes as Stylizer.process out."""
    from framestyle import Stylizer
    from framestyle.zoo.registry import DEFAULT_MODEL
    r = httpx.get(f"{server}/models/{DEFAULT_MODEL}.onnx?form=rgba", timeout=60)
    assert r.status_code == 200
    sess = ort.InferenceSession(r.content, providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in sess.get_inputs()] == [("rgba", "tensor(uint8)")]
    img = photo()
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 9, np.uint8)], axis=2)
    out = sess.run(None, {"rgba": rgba})[0]
    assert out.shape == (240, 320, 4) and (out[..., 3] == 255).all()
    ref = Stylizer(DEFAULT_MODEL, threads=1).process(img)
    assert np.array_equal(out[..., :3], ref)
    assert np.abs(out[..., :3].astype(int) - img).mean() > 10  # stylised, not passed through


def test_unknown_form_is_a_json_422(server):
    from framestyle.zoo.registry import DEFAULT_MODEL
    r = httpx.get(f"{server}/models/{DEFAULT_MODEL}.onnx?form=float", timeout=60)
    assert r.status_code == 422 and "form" in r.json()["error"]


def test_style_vector_for_the_student_in_the_page(server):
    from framestyle.runtime.arbitrary import METHOD_MODELS
    from framestyle.zoo.magenta import MagentaTeacher
    from framestyle.imageio import load_image
    style = DATA / "starry_night.jpg"
    r = httpx.post(server + "/api/style-vector", timeout=60,
                   files={"style_image": ("s.jpg", style.read_bytes(), "image/jpeg")})
    assert r.status_code == 200, r.text
    vec = np.array(r.json()["vector"], np.float32)
    ref = MagentaTeacher(threads=1).style_vector(load_image(style))
    assert vec.shape == (100,) and np.allclose(vec, ref, atol=1e-5)
    bad = httpx.post(server + "/api/style-vector", files={"style_image": ("s.jpg", b"hello", "image/jpeg")},
                     timeout=60)
    assert bad.status_code == 415 and "error" in bad.json()
    student = METHOD_MODELS["student"]
    data = httpx.get(f"{server}/models/{student}.onnx?form=rgba", timeout=60).content
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    img = photo(160, 120)
    rgba = np.concatenate([img, np.zeros(img.shape[:2] + (1,), np.uint8)], axis=2)
    out = sess.run(None, {"rgba": rgba, "style": vec[None]})[0]
    assert out.shape == (120, 160, 4) and np.abs(out[..., :3].astype(int) - img).mean() > 10
    assert httpx.get(server + "/models/magenta.onnx", timeout=60).status_code == 404


def test_device_model_is_one_style_as_the_python_runtime_runs_it(server):
    """POST /api/device-model: multi26 style 7 as a fixed int8 graph whose RGBA form gives the bytes of
    Stylizer('multi26', style=7).process; the errors are JSON."""
    from framestyle import Stylizer
    r = httpx.post(server + "/api/device-model", data={"model": "multi26", "style": "7"}, timeout=120)
    assert r.status_code == 200, r.text
    sess = ort.InferenceSession(r.content, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["rgba"]  # no style input: the style is folded in
    assert "DequantizeLinear" in {n.op_type for n in onnx.load_from_string(r.content).graph.node}  # int8
    img = photo(160, 120)
    out = sess.run(None, {"rgba": np.concatenate([img, np.zeros((120, 160, 1), np.uint8)], axis=2)})[0]
    assert np.array_equal(out[..., :3], Stylizer("multi26", style=7, threads=1).process(img))
    other = httpx.post(server + "/api/device-model", data={"model": "multi26", "style": "3:0.5,12:0.5"}, timeout=120)
    assert other.status_code == 200 and other.content != r.content
    models = {m["name"]: m for m in httpx.get(server + "/api/models", timeout=60).json()["models"]}
    assert models["multi26"]["browser"] and models["multi26"]["specialise"] and models["multi26"]["styles"] == 26
    for data, status, words in [({"model": "multi26", "style": "40"}, 400, "style"),
                                ({"model": "starry"}, 400, "not specialisable"),
                                ({"model": "multi26", "style": "7", "form": "float"}, 422, "form"),
                                ({"model": "nope"}, 404, "unknown model")]:
        bad = httpx.post(server + "/api/device-model", data=data, timeout=60)
        assert bad.status_code == status and words in bad.json()["error"], (data, bad.text)
    assert httpx.get(server + "/models/multi26.onnx", timeout=60).status_code == 404
