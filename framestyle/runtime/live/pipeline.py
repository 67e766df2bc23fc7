"""Live pipeline: capture -> stylise -> output on three threads joined by 1-slot queues.

With a live source (webcam, screen, stream, or a file paced at its real rate) a full queue drops its
stale frame for the newest one, so latency stays near one capture + one stylise + one output.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Optional

import numpy as np

from .codec import even_size, fit_frame
from .sinks import Sink
from .sources import Source
from .video import _END, _Worker, get, put


class _Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self, k: int = 1):
        with self.lock:
            self.n += k


def put_latest(q: queue.Queue, item, dropped: _Counter) -> None:
    """Put without blocking; a full queue loses its oldest item (counted in `dropped`)."""
    while True:
        try:
            q.put_nowait(item)
            return
        except queue.Full:
            try:
                q.get_nowait()
                dropped.add()
            except queue.Empty:
                pass


def run_live(source: Source, stylizer, sink: Sink, stabilizer=None, duration: Optional[float] = None,
             max_size: Optional[int] = None, queue_size: int = 1, overlay: bool = True) -> dict:
    """Run until the source ends, `duration` seconds pass, or the window's q key; return stats.

    stats: frames_in, frames_out, dropped, fps (delivered), latency_ms p50/p90/max (capture -> output),
    stylise_ms p50.
    """
    live = bool(source.live)
    q_in: queue.Queue = queue.Queue(queue_size)
    q_out: queue.Queue = queue.Queue(queue_size)
    stop = threading.Event()
    dropped = _Counter()
    frames_in = _Counter()
    model_ms = []
    size = {}

    def capture():
        try:
            while not stop.is_set():
                frame = source.read()
                if frame is None:
                    break
                t = time.perf_counter()
                if max_size:
                    if "wh" not in size:
                        size["wh"] = even_size(frame.shape[1], frame.shape[0], max_size)
                    frame = fit_frame(frame, size["wh"])
                frames_in.add()
                if live:
                    put_latest(q_in, (frame, t), dropped)
                elif not put(q_in, (frame, t), stop):
                    return
        finally:
            put(q_in, _END, stop)

    def stylise():
        try:
            while True:
                item = get(q_in, stop, [reader])
                if item is _END:
                    break
                frame, t = item
                t1 = time.perf_counter()
                out = stylizer.process(frame)
                if stabilizer is not None:
                    out = stabilizer.step(frame, out)
                else:
                    out = out.copy()
                model_ms.append(1000 * (time.perf_counter() - t1))
                if live:
                    put_latest(q_out, (out, t), dropped)
                elif not put(q_out, (out, t), stop):
                    return
        finally:
            put(q_out, _END, stop)

    reader = _Worker(capture, "live-capture")
    worker = _Worker(stylise, "live-stylise")
    latencies = []
    t_out = []
    t0 = time.perf_counter()
    reader.start()
    worker.start()
    quit_key = False
    try:
        while True:
            if duration is not None and time.perf_counter() - t0 >= duration:
                break
            try:
                item = q_out.get(timeout=0.1)
            except queue.Empty:
                if worker.error is not None or not worker.is_alive() and q_out.empty():
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
        reader.join(timeout=5)
        worker.join(timeout=5)
        source.close()
    for wk in (reader, worker):
        if wk.error is not None:
            raise wk.error
    elapsed = time.perf_counter() - t0
    span = (t_out[-1] - t_out[0]) if len(t_out) > 1 else 0.0
    lat = np.array(latencies) if latencies else np.zeros(1)
    return {"source": source.name, "sink": sink.name, "model": getattr(getattr(stylizer, "info", None), "name", None),
            "frames_in": frames_in.n, "frames_out": len(t_out),
            "dropped": dropped.n, "seconds": round(elapsed, 2),
            "fps": round((len(t_out) - 1) / span, 2) if span > 0 else 0.0,
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1),
                           "p90": round(float(np.percentile(lat, 90)), 1),
                           "max": round(float(lat.max()), 1)},
            "stylise_ms_p50": round(float(np.median(model_ms)), 1) if model_ms else None,
            "stabilizer": stabilizer is not None and getattr(stabilizer, "enabled", True),
            "quit_by_key": quit_key}


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
    if key in ("n", "p") and info is not None and info.kind == "multi":
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
