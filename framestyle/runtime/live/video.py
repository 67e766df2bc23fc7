"""Stylise a video file: decode -> stylise -> encode overlap on three threads with bounded queues.

The audio stream is copied (or re-encoded to AAC when the output container cannot hold it), frame rate
and resolution are kept (unless max_size), and the output appears under its final name only when done.
"""
from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ...errors import UserError
from ...imageio import same_file
from .codec import VideoWriter, estimate_frames, even_size, fit_frame, open_video, output_format, stream_fps

_END = object()


class _Worker(threading.Thread):
    """A daemon thread that records its exception instead of printing it."""

    def __init__(self, target: Callable, name: str, stop: Optional[threading.Event] = None):
        super().__init__(target=self._run, name=name, daemon=True)
        self._fn, self._halt = target, stop
        self.error: Optional[BaseException] = None

    def _run(self):
        try:
            self._fn()
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            if self._halt is not None:  # e.g. the disk is full: nobody waits on a dead encoder
                self._halt.set()


def put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Blocking put that gives up when `stop` is set."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def get(q: queue.Queue, stop: threading.Event, workers=()):
    """Blocking get that gives up when `stop` is set or a producer died."""
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            for w in workers:
                if w.error is not None:
                    return _END
    return _END


def stylize_video(src, dst, stylizer, stabilizer=None, max_size: Optional[int] = None,
                  progress: bool = True, queue_size: int = 4) -> dict:
    """Stylise video `src` into `dst` (.mp4/.mkv/.mov) with `stylizer.process`; returns stats.

    stylizer: anything with `.process(uint8 HxWx3) -> uint8 HxWx3` (a `framestyle.runtime.Stylizer`).
    stabilizer: optional `Stabilizer` applied to each stylised frame (on the encoder thread).
    """
    import av
    src, dst = Path(src), Path(dst)
    output_format(dst)
    if src.exists() and (same_file(src, dst) or src.resolve() == dst.resolve()):
        raise UserError(f"{dst}: output is the input file; choose another name")
    if dst.is_dir():
        raise UserError(f"{dst}: is a folder; give an output file name like out.mp4")
    c = open_video(src)
    vs = c.streams.video[0]
    vs.thread_type = "AUTO"
    audio = c.streams.audio[0] if c.streams.audio else None
    fps = stream_fps(vs)
    w0, h0 = vs.codec_context.width, vs.codec_context.height
    if not w0 or not h0:
        c.close()
        raise UserError(f"{src}: video stream has no frame size")
    size = even_size(w0, h0, max_size)
    total = estimate_frames(c, vs)
    try:
        writer = VideoWriter(dst, size[0], size[1], fps)
    except BaseException:
        c.close()
        raise
    audio_mode = writer.add_audio(audio) if audio is not None else None
    q_in: queue.Queue = queue.Queue(queue_size)
    q_out: queue.Queue = queue.Queue(queue_size)
    audio_q: queue.Queue = queue.Queue()
    stop = threading.Event()
    counts = {"decoded": 0, "stabilise_s": 0.0}

    def read():
        streams = [vs] + ([audio] if audio is not None else [])
        try:
            for packet in c.demux(*streams):
                if packet.stream.type == "audio":
                    audio_q.put(packet)
                    continue
                for frame in packet.decode():
                    arr = fit_frame(frame.to_ndarray(format="rgb24"), size)
                    counts["decoded"] += 1
                    if not put(q_in, arr, stop):
                        return
        except av.error.FFmpegError as exc:
            raise UserError(f"{src}: corrupt or unreadable video near frame {counts['decoded']} ({exc})") from None
        finally:
            put(q_in, _END, stop)

    def write():
        while True:
            item = get(q_out, stop)
            if item is _END:
                break
            frame, out = item
            if stabilizer is not None:  # here, so it overlaps with the next frame's stylisation
                t = time.perf_counter()
                out = stabilizer.step(frame, out)
                counts["stabilise_s"] += time.perf_counter() - t
            writer.write(out)
            _drain_audio(audio_q, writer, writer.seconds_written + 0.5)
        _drain_audio(audio_q, writer, float("inf"))

    reader = _Worker(read, "video-read", stop)
    encoder = _Worker(write, "video-write", stop)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, unit="frame", desc=src.name, leave=False, dynamic_ncols=True, mininterval=0.5)
    t0 = time.perf_counter()
    model_s = 0.0
    n = 0
    try:
        reader.start()
        encoder.start()
        while True:
            frame = get(q_in, stop, [reader, encoder])
            if frame is _END:
                break
            if encoder.error is not None:
                break
            t = time.perf_counter()
            out = stylizer.process(frame)
            model_s += time.perf_counter() - t
            if not put(q_out, (frame, np.array(out, copy=True)), stop):
                break
            n += 1
            if bar is not None:
                bar.update(1)
                if n % 10 == 0:
                    bar.set_postfix(fps=f"{n / (time.perf_counter() - t0):.1f}")
        put(q_out, _END, stop)
        encoder.join()
        reader.join(timeout=5)
        for wk in (reader, encoder):
            if wk.error is not None:
                raise wk.error
        writer.close()
    except BaseException:
        stop.set()
        for wk in (reader, encoder):
            if wk.is_alive():
                wk.join(timeout=5)
        writer.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
        c.close()
    elapsed = time.perf_counter() - t0
    duration = writer.frames / float(fps)
    return {"input": str(src), "output": str(dst), "model": getattr(getattr(stylizer, "info", None), "name", None),
            "frames": writer.frames, "fps": round(float(fps), 3),
            "width": size[0], "height": size[1], "audio": audio_mode, "seconds": round(elapsed, 2),
            "video_seconds": round(duration, 2), "speed_x_realtime": round(duration / max(elapsed, 1e-9), 2),
            "stylise_ms_per_frame": round(1000 * model_s / max(n, 1), 1),
            "stabilise_ms_per_frame": round(1000 * counts["stabilise_s"] / max(n, 1), 1),
            "processing_fps": round(n / max(elapsed, 1e-9), 1),
            "stabilizer": None if stabilizer is None else stabilizer.strength}


def _drain_audio(audio_q: queue.Queue, writer: VideoWriter, until: float) -> None:
    while True:
        try:
            pkt = audio_q.queue[0]
        except IndexError:
            return
        t = float(pkt.pts * pkt.time_base) if pkt.pts is not None and pkt.time_base else 0.0
        if t > until:
            return
        audio_q.get_nowait()
        writer.write_audio(pkt)
