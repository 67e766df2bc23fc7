"""PyAV helpers: open a video with clear errors, and an atomic H.264 writer that keeps the audio."""
from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ...errors import UserError

OUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
DEFAULT_FPS = Fraction(30)


def open_video(path) -> "av.container.InputContainer":
    """Open a local video file; UserError for missing, empty, corrupt or audio-only files."""
    import av
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a video")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file (0 bytes)")
    try:
        c = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable video ({_short(exc)})") from None
    if not c.streams.video:
        c.close()
        raise UserError(f"{path}: has no video stream")
    vs = c.streams.video[0]
    if vs.codec_context.name in ("png", "mjpeg", "bmp", "tiff", "webp") and (vs.frames or 0) <= 1 \
            and not (c.duration and c.duration > 1_000_000 // 10):
        c.close()
        from ...imageio import IMAGE_EXTS
        if path.suffix.lower() in IMAGE_EXTS or (vs.frames or 0) == 1:
            raise UserError(f"{path}: is a still image, not a video")
        raise UserError(f"{path}: video has no frames")
    return c


def stream_fps(vs) -> Fraction:
    for rate in (vs.average_rate, vs.guessed_rate, vs.base_rate):
        if rate and 1 <= float(rate) <= 240:
            return Fraction(rate)
    return DEFAULT_FPS


def estimate_frames(container, vs) -> Optional[int]:
    if vs.frames:
        return int(vs.frames)
    if container.duration:
        return int(round(container.duration / 1e6 * float(stream_fps(vs))))
    return None


def even_size(w: int, h: int, max_size: Optional[int] = None) -> Tuple[int, int]:
    """Output size: scaled so the longer side is <= max_size, both sides even (yuv420p needs it)."""
    if max_size and max(w, h) > max_size:
        s = max_size / max(w, h)
        w, h = w * s, h * s
    return max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)


def fit_frame(arr: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    w, h = size
    if arr.shape[1] == w and arr.shape[0] == h:
        return arr
    import cv2
    inter = cv2.INTER_AREA if w < arr.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(arr, (w, h), interpolation=inter)


def output_format(path: Path) -> str:
    fmt = OUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UserError(f"{path}: unsupported output type; use one of {', '.join(sorted(OUT_FORMATS))}")
    return fmt


def _short(exc) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


class VideoWriter:
    """H.264 (libx264, yuv420p) into a temp file beside `path`; `close()` renames it into place.

    `add_audio(stream)` copies the input's audio when the container accepts its codec, else re-encodes
    it to AAC. `abort()` (or leaving a `with` block by an exception) deletes the temp file.
    """

    def __init__(self, path, width: int, height: int, fps, crf: int = 20, preset: str = "veryfast"):
        import av
        self.path = Path(path)
        fmt = output_format(self.path)
        if width % 2 or height % 2:
            raise UserError(f"H.264 needs even frame sizes, got {width}x{height}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        try:
            self.c = av.open(tmp, "w", format=fmt)
            self.fps = Fraction(fps).limit_denominator(100000)
            self.v = self.c.add_stream("libx264", rate=self.fps)
            self.v.width, self.v.height, self.v.pix_fmt = width, height, "yuv420p"
            self.v.options = {"crf": str(crf), "preset": preset}
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        self.size = (width, height)
        self.frames = 0
        self.audio_mode: Optional[str] = None
        self._a = None
        self._resampler = None
        self._a_samples = 0
        self.closed = False

    # -- audio ------------------------------------------------------------------------------------
    def add_audio(self, in_stream) -> Optional[str]:
        """Prepare an output audio stream for `in_stream`; returns 'copy' or 'aac'."""
        import av
        name = in_stream.codec_context.name
        if name in self.c.supported_codecs:
            try:
                self._a = self.c.add_stream_from_template(in_stream)
                self.audio_mode = "copy"
                return self.audio_mode
            except (av.error.FFmpegError, ValueError):
                self._a = None
        rate = in_stream.codec_context.sample_rate or 48000
        self._a = self.c.add_stream("aac", rate=rate)
        layout = "mono" if in_stream.codec_context.channels == 1 else "stereo"
        self._a.layout = layout
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self.audio_mode = "aac"
        return self.audio_mode

    def write_audio(self, packet) -> None:
        if self._a is None or packet.size == 0:
            return
        if self.audio_mode == "copy":
            if packet.dts is None:
                return
            packet.stream = self._a
            self.c.mux(packet)
            return
        for frame in packet.decode():
            self._encode_audio(frame)

    def _encode_audio(self, frame) -> None:
        for rf in self._resampler.resample(frame):
            rf.pts = self._a_samples
            rf.time_base = Fraction(1, rf.sample_rate)
            self._a_samples += rf.samples
            self.c.mux(self._a.encode(rf))

    # -- video ------------------------------------------------------------------------------------
    def write(self, rgb: np.ndarray) -> None:
        import av
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        frame.time_base = 1 / self.fps
        self.frames += 1
        self.c.mux(self.v.encode(frame))

    @property
    def seconds_written(self) -> float:
        return self.frames / float(self.fps)

    def close(self) -> Path:
        """Flush the encoders and rename the temp file to the final name."""
        if self.closed:
            return self.path
        try:
            self.c.mux(self.v.encode(None))
            if self._resampler is not None:
                for rf in self._resampler.resample(None):
                    rf.pts, rf.time_base = self._a_samples, Fraction(1, rf.sample_rate)
                    self._a_samples += rf.samples
                    self.c.mux(self._a.encode(rf))
                self.c.mux(self._a.encode(None))
            self.c.close()
            self.closed = True
            if self.frames == 0:
                raise UserError("no frames were written")
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        if not self.closed:
            try:
                self.c.close()
            except Exception:
                pass
            self.closed = True
        self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.close()
        else:
            self.abort()
