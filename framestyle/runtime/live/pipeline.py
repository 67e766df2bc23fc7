"""Live pipeline: capture, model, stabiliser and output overlap on their own threads.

    capture --q_in--> model --q_styled----------------> blend --q_out--> sink (the calling thread)
                      model --q_flow--> motion --q_motion--> blend

The stabiliser's optical flow needs only the input frames (downscaled), so `Stabilizer.motion` runs on its
own thread while the model stylises the same frame; the blend stage joins the two at full resolution. With
a live source (webcam, screen, stream, or a file paced at its real rate) q_in and q_out hold one frame and a
newer frame replaces a stale one, so latency stays near one capture + one stylise + one output. A file read
as fast as possible drops nothing.

Frame counters in the stats (they add up: frames_in = frames_out + dropped + in_flight):
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from typing import Optional

import numpy as np

from ..session import no_spinning
from .codec import even_size, fit_frame
from .sinks import Sink
from .sources import Source
from .video import _END, _Worker, get, put

COUNTERS = {
    "frames_in": "frames read from the source",
    "frames_out": "frames handed to the sink",
    "dropped": "frames replaced by a newer one (live sources only): dropped_stale + dropped_late",
    "dropped_stale": "read, but a newer frame arrived before the model was free (never stylised)",
    "dropped_late": "stylised, but a newer result arrived before the sink took it",
    "in_flight": "read but neither delivered nor dropped when the run stopped (in a queue or being processed)",
}
__doc__ += "".join(f"    {k}: {v}\n" for k, v in COUNTERS.items())


class _Counts:
    def __init__(self):
        self.c = Counter()
        self.lock = threading.Lock()

    def add(self, key: str, k: int = 1):
        with self.lock:
            self.c[key] += k


def put_latest(q: queue.Queue, item, counts: _Counts, key: str) -> None:
    """Put without blocking; a full queue loses its oldest item (counted under `key`)."""
    while True:
        try:
            q.put_nowait(item)
            return
        except queue.Full:
            try:
                if q.get_nowait() is not _END:
                    counts.add(key)
            except queue.Empty:
                pass


def _drain(q: queue.Queue) -> int:
    """Empty a queue after the run; the number of frames it still held."""
    n = 0
    while True:
        try:
            n += q.get_nowait() is not _END
        except queue.Empty:
            return n


def run_live(source: Source, stylizer, sink: Sink, stabilizer=None, duration: Optional[float] = None,
             max_size: Optional[int] = None, queue_size: Optional[int] = None, overlay: bool = True) -> dict:
    """Run until the source ends, `duration` seconds pass, or the window's q key; return stats (COUNTERS,
    fps delivered, latency_ms p50/p90/max from capture to the sink, per-frame medians of the model
    (stylise_ms_p50) and of the stabiliser's two stages (flow_ms_p50 on its thread, blend_ms_p50), and
    warmup_ms: the model's first run, before the clock starts)."""
    import cv2
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the stages already overlap on the cores; OpenCV's own pool would fight the model's
    live = bool(source.live)
    qs = queue_size or (1 if live else 2)
    q_in, q_styled, q_out = queue.Queue(qs), queue.Queue(2), queue.Queue(qs)
    q_flow, q_motion = queue.Queue(2), queue.Queue(4)
    stop = threading.Event()
    counts = _Counts()
    model_ms, flow_ms, blend_ms = [], [], []
    size = {}

    def fit(frame):
        if max_size:
            if "wh" not in size:
                size["wh"] = even_size(frame.shape[1], frame.shape[0], max_size)
            frame = fit_frame(frame, size["wh"])
        return frame

    first = source.read()  # warm the model up on the first frame, outside the timed run
    t_warm = time.perf_counter()
    if first is not None:
        first = fit(first)
        # the model's session opens here; beside the stabiliser's threads it must not spin (docs/live.md)
        with (no_spinning() if stabilizer is not None and stabilizer.enabled else contextlib.nullcontext()):
            stylizer.process(first)
    warmup_ms = 1000 * (time.perf_counter() - t_warm)

    def capture():
        frame = first
        try:
            while frame is not None and not stop.is_set():
                counts.add("in")
                item = (frame, time.perf_counter())
                if live:
                    put_latest(q_in, item, counts, "stale")
                elif not put(q_in, item, stop):
                    counts.add("held")
                    return
                frame = source.read()
                if frame is not None:
                    frame = fit(frame)
        finally:
            put(q_in, _END, stop)

    def held() -> bool:  # a stage stopped while handing on a frame
        counts.add("held")
        return False

    def model_step(item) -> bool:
        frame, t = item
        if stabilizer is not None and not put(q_flow, frame, stop):
            return held()
        t1 = time.perf_counter()
        out = stylizer.process(frame).copy()
        model_ms.append(1000 * (time.perf_counter() - t1))
        return put(q_styled, (out, t), stop) or held()

    def motion_step(frame) -> bool:
        t1 = time.perf_counter()
        m = stabilizer.motion(frame)
        flow_ms.append(1000 * (time.perf_counter() - t1))
        return put(q_motion, m, stop)

    def blend_step(item) -> bool:
        out, t = item
        if stabilizer is not None:
            m = get(q_motion, stop, [mover])
            if m is _END:
                return held()
            t1 = time.perf_counter()
            out = stabilizer.blend(out, m)
            blend_ms.append(1000 * (time.perf_counter() - t1))
        if live:
            put_latest(q_out, (out, t), counts, "late")
            return True
        return put(q_out, (out, t), stop) or held()

    def stage(q_from, upstream, step, outs):
        """One thread's loop: take from q_from until the end mark (or `step` says stop), then pass the end on."""
        def loop():
            try:
                while True:
                    item = get(q_from, stop, upstream)
                    if item is _END or not step(item):
                        break
            finally:
                for q in outs:
                    put(q, _END, stop)
        return loop

    reader = _Worker(capture, "live-capture")
    styler = _Worker(stage(q_in, [reader], model_step, [q_flow, q_styled]), "live-model")
    mover = _Worker(stage(q_flow, [styler], motion_step, [q_motion]), "live-motion")
    blender = _Worker(stage(q_styled, [styler], blend_step, [q_out]), "live-blend")
    workers = [reader, styler, blender] + ([mover] if stabilizer is not None else [])
    latencies = []
    t_out = []
    t0 = time.perf_counter()
    for wk in workers:
        wk.start()
    quit_key = False
    try:
        while True:
            if duration is not None and time.perf_counter() - t0 >= duration:
                break
            try:
                item = q_out.get(timeout=0.1)
            except queue.Empty:
                if any(wk.error is not None for wk in workers) or not blender.is_alive() and q_out.empty():
                    break
                continue
            if item is _END:
                break
            out, t = item
            text = _overlay(t_out, latencies, stylizer, stabilizer) if overlay else ""
            key = sink.write(out, text)
            now = time.perf_counter()
            latencies.append(1000 * (now - t))
            t_out.append(now)
            if key and _handle_key(key, stylizer, stabilizer):
                quit_key = True
                break
    finally:
        stop.set()
        cv2.setNumThreads(cv_threads)
        for wk in workers:
            wk.join(timeout=5)
        source.close()
    for wk in workers:
        if wk.error is not None:
            raise wk.error
    elapsed = time.perf_counter() - t0
    c = counts.c
    in_flight = c["held"] + sum(_drain(q) for q in (q_in, q_styled, q_out))
    span = (t_out[-1] - t_out[0]) if len(t_out) > 1 else 0.0
    lat = np.array(latencies) if latencies else np.zeros(1)
    return {"source": source.name, "sink": sink.name, "model": getattr(getattr(stylizer, "info", None), "name", None),
            "frames_in": c["in"], "frames_out": len(t_out),
            "dropped": c["stale"] + c["late"], "dropped_stale": c["stale"], "dropped_late": c["late"],
            "in_flight": in_flight, "seconds": round(elapsed, 2),
            "fps": round((len(t_out) - 1) / span, 2) if span > 0 else 0.0,
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1),
                           "p90": round(float(np.percentile(lat, 90)), 1),
                           "max": round(float(lat.max()), 1)},
            "stylise_ms_p50": _p50(model_ms),
            "flow_ms_p50": _p50(flow_ms), "blend_ms_p50": _p50(blend_ms),
            "warmup_ms": round(warmup_ms, 1),
            "stabilizer": stabilizer is not None and getattr(stabilizer, "enabled", True),
            "quit_by_key": quit_key, "counters": COUNTERS}


def _p50(ms):
    return round(float(np.median(ms)), 1) if ms else None


def _overlay(t_out, latencies, stylizer, stabilizer) -> str:
    recent = t_out[-30:]
    fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
    lat = np.median(latencies[-30:]) if latencies else 0.0
    parts = [f"{fps:.1f} FPS  {lat:.0f} ms"]
    info = getattr(stylizer, "info", None)
    if info is not None and info.kind == "multi" and getattr(stylizer, "_style_weights", None) is not None:
        parts.append(f"style {int(np.argmax(stylizer._style_weights))}")
    if hasattr(stylizer, "strength"):
        parts.append(f"strength {stylizer.strength:.1f}")
    if stabilizer is not None:
        parts.append("stab " + ("on" if stabilizer.enabled else "off"))
    return "  ".join(parts[:1]) + "\n" + "  ".join(parts[1:]) + "\nn/p style  +/- strength  s stab  q quit"


def _handle_key(key: str, stylizer, stabilizer) -> bool:
    """Window keys: n/p next/previous style (multi models), +/- strength, s stabiliser, q/Esc quit."""
    if key in ("q", "\x1b"):
        return True
    info = getattr(stylizer, "info", None)
    if key in ("n", "p") and info is not None and info.kind == "multi" and info.style is None:  # not a named one
        n = int(info.card.get("styles", 26))
        cur = int(np.argmax(stylizer._style_weights))
        stylizer.set_style((cur + (1 if key == "n" else -1)) % n)
    elif key in ("+", "=", "-", "_") and hasattr(stylizer, "strength"):
        step = 0.1 if key in ("+", "=") else -0.1
        stylizer.strength = round(min(1.0, max(0.0, stylizer.strength + step)), 2)
    elif key == "s" and stabilizer is not None:
        stabilizer.enabled = not stabilizer.enabled
        stabilizer.reset()
    return False
