"""What the page needs to stylise on the device: model files in the form the browser runs best, one style of a
conditional student as its own fixed int8 graph (`runtime.specialise.for_model`: a multi26 style, or a painting for
a specialisable any-painting card), and the style vector of a painting for the any-painting student.

Forms of a model file (`/models/NAME.onnx?form=...`):
- `onnx`: the file as shipped (float RGB 0..1 NCHW in and out; int8 QDQ inside for the `-int8` models);
- `rgba`: the uint8 frame-in/frame-out graph of the Python runtime (`runtime.session.uint8_graph`: for an int8
  graph with exact 8-bit ends the frame's bytes go straight into the first quantised tensor), taking and
  returning the canvas's RGBA bytes [H, W, 4] (alpha is dropped on the way in and set to 255 on the way out), so
  the page hands ImageData to ONNX Runtime and back with no per-pixel JavaScript.
"""
from __future__ import annotations

import threading

from ..runtime.specialise import for_model, specialisable

FORMS = ("onnx", "rgba")
RGBA_IN, RGBA_OUT = "rgba", "rgba_out"
CACHED = 32  # model files kept in memory (a style each for the specialised ones)
_cache, _lock = {}, threading.Lock()


def served_as_file(m) -> bool:
    """Models whose own file the page runs (`/models/NAME.onnx`): fixed-style ones and the any-painting student
    (fed the style vector)."""
    return m.kind == "fixed" or (m.kind == "arbitrary" and m.card.get("method") == "student")


def browser_ok(m) -> bool:
    """Models the page runs itself: those served as a file, and specialisable ones (a fixed graph per style)."""
    return served_as_file(m) or specialisable(m)


def model_bytes(path, form: str) -> bytes:
    """The model file at `path` in `form`, built once per version of the file (kept in memory)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, form)
    with _lock:
        if key not in _cache:
            while len(_cache) >= CACHED:
                _cache.pop(next(iter(_cache)))
            _cache[key] = _build(path, form)
        return _cache[key]


def _build(path, form: str) -> bytes:
    import onnx
    if form == "onnx":
        return path.read_bytes()
    from ..runtime.session import U8_IN, U8_OUT, uint8_graph
    return rgba_ends(onnx.load_from_string(uint8_graph(path)), U8_IN, U8_OUT).SerializeToString()


def rgba_ends(m, frame: str, out: str):
    """Wrap a uint8 [H,W,3] -> [H,W,3] graph to take and return RGBA [H,W,4] uint8 (alpha out = 255)."""
    from onnx import TensorProto, helper
    g = m.graph
    g.initializer.extend([helper.make_tensor("rgba_s0", TensorProto.INT64, [1], [0]),
                          helper.make_tensor("rgba_s3", TensorProto.INT64, [1], [3]),
                          helper.make_tensor("rgba_ax2", TensorProto.INT64, [1], [2]),
                          helper.make_tensor("rgba_pads", TensorProto.INT64, [6], [0, 0, 0, 0, 0, 1]),
                          helper.make_tensor("rgba_255", TensorProto.UINT8, [], [255])])
    nodes = [helper.make_node("Slice", [RGBA_IN, "rgba_s0", "rgba_s3", "rgba_ax2"], [frame])] + list(g.node) + \
            [helper.make_node("Pad", [out, "rgba_pads", "rgba_255"], [RGBA_OUT], mode="constant")]
    del g.node[:]
    g.node.extend(nodes)
    extra = [i for i in g.input if i.name != frame]
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info(RGBA_IN, TensorProto.UINT8, ["height", "width", 4])] + extra)
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info(RGBA_OUT, TensorProto.UINT8, ["height", "width", 4])])
    return m


def style_vector_job(pool, style_data: bytes) -> list:
    """Runs on a worker thread: the 100-number Magenta style vector of a painting (what the student takes), from
    the same predictor the server's student uses (cached by image content)."""
    from ..imageio import load_image
    from ..zoo.magenta import MagentaTeacher
    teacher = pool.cached("magenta-teacher", lambda: MagentaTeacher(threads=pool.ort_threads))
    return [round(float(v), 6) for v in teacher.style_vector(load_image(style_data, "style_image")).reshape(-1)]


def device_model_job(pool, m, style, style_data, form: str) -> bytes:
    """Runs on a worker thread: the fixed int8 graph of specialisable model `m` for a style (a multi-style index
    or blend, or a painting's bytes -> its style vector) in `form`; made once per style and cached on disk."""
    vec = style_vector_job(pool, style_data) if style_data is not None else None
    return model_bytes(for_model(m, style=style, style_vector=vec), form)
