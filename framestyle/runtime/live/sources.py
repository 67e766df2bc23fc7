"""Frame sources for `framestyle live`: webcam, screen, video file, network stream, folder of images.

`open_source(spec)` checks the source up front (clear UserError when it is missing or dead) and returns
an object with `read() -> uint8 HxWx3 RGB or None at the end`, `fps`, `live` (frames arrive on their own
clock, so stale ones may be dropped) and `close()`.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import UserError
from ...imageio import IMAGE_EXTS, load_image
from .codec import fit_frame, open_video, stream_fps

NET_TIMEOUT = 5.0


class Source:
    fps: float = 30.0
    live: bool = True
    name: str = "source"

    def read(self) -> Optional[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FileSource(Source):
    """A video file through PyAV; `realtime` paces frames at the file's own rate."""

    def __init__(self, path, realtime: bool = False, loop: bool = False):
        self.path = Path(path)
        self.name = str(path)
        self.c = open_video(self.path)
        self.vs = self.c.streams.video[0]
        self.vs.thread_type = "AUTO"
        self.fps = float(stream_fps(self.vs))
        self.live = realtime
        self.realtime, self.loop = realtime, loop
        self._frames = self.c.decode(self.vs)
        self._t0 = None
        self._n = 0
        first = self._next()
        if first is None:
            raise UserError(f"{path}: video has no decodable frames")
        self._first = first

    def _next(self) -> Optional[np.ndarray]:
        import av
        try:
            return next(self._frames).to_ndarray(format="rgb24")
        except StopIteration:
            return None
        except av.error.FFmpegError as exc:
            raise UserError(f"{self.path}: corrupt or unreadable video ({exc})") from None

    def read(self) -> Optional[np.ndarray]:
        if self._first is not None:
            frame, self._first = self._first, None
        else:
            frame = self._next()
            if frame is None and self.loop:
                self.c.seek(0)
                self._frames = self.c.decode(self.vs)
                frame = self._next()
        if frame is None:
            return None
        if self.realtime:
            now = time.perf_counter()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self._n / self.fps
            if due > now:
                time.sleep(due - now)
        self._n += 1
        return frame

    def close(self) -> None:
        self.c.close()


class ArraySource(Source):
    """Frames from memory (tests, benchmarks, render loops), optionally paced at `fps`."""

    def __init__(self, frames, fps: float = 30.0, realtime: bool = True, name: str = "frames"):
        self.frames, self.fps, self.live, self.realtime, self.name = list(frames), fps, realtime, realtime, name
        self._i, self._t0 = 0, None

    def read(self):
        if self._i >= len(self.frames):
            return None
        if self.realtime:
            now = time.perf_counter()
            self._t0 = self._t0 or now
            due = self._t0 + self._i / self.fps
            if due > now:
                time.sleep(due - now)
        self._i += 1
        return self.frames[self._i - 1]


class FolderSource(ArraySource):
    """Images of a folder in name order (loaded lazily)."""

    def __init__(self, folder, fps: float = 30.0, realtime: bool = False):
        folder = Path(folder)
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not paths:
            raise UserError(f"{folder}: no images in this folder ({', '.join(sorted(IMAGE_EXTS))})")
        super().__init__(paths, fps, realtime, str(folder))
        self._size = None

    def read(self):
        p = super().read()
        if p is None:
            return None
        img = load_image(p)
        if self._size is None:
            self._size = (img.shape[1] // 2 * 2, img.shape[0] // 2 * 2)
        return fit_frame(img, self._size)


class CaptureSource(Source):
    """cv2.VideoCapture (webcams) or PyAV (rtsp/http streams)."""

    def __init__(self, cap, name: str, fps: float):
        self.cap, self.name, self.fps, self.live = cap, name, fps, True

    def read(self):
        ok, frame = self.cap.read()
        if not ok or frame is None:
            return None
        import cv2
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self):
        self.cap.release()


class StreamSource(Source):
    """A network stream (rtsp://, http:// MJPEG or any URL FFmpeg reads) through PyAV with timeouts."""

    def __init__(self, url: str, timeout: float = NET_TIMEOUT):
        import av
        self.name, self.live = url, True
        opts = {"rtsp_transport": "tcp"} if url.startswith("rtsp") else {}
        try:
            self.c = av.open(url, options=opts, timeout=(timeout, timeout))
        except (av.error.FFmpegError, OSError) as exc:
            raise UserError(f"{url}: cannot open stream ({_short(exc)})") from None
        if not self.c.streams.video:
            self.c.close()
            raise UserError(f"{url}: stream has no video")
        vs = self.c.streams.video[0]
        self.fps = float(stream_fps(vs))
        self._frames = self.c.decode(vs)

    def read(self):
        import av
        try:
            return next(self._frames).to_ndarray(format="rgb24")
        except StopIteration:
            return None
        except (av.error.FFmpegError, OSError):
            return None

    def close(self):
        self.c.close()


class ScreenSource(Source):
    def __init__(self, region: Optional[tuple] = None):
        try:
            import mss
        except ImportError:
            raise UserError("screen capture needs the mss package: pip install mss") from None
        if os.name != "nt" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
                and not _is_mac():
            raise UserError("screen capture needs a display, and none is available ($DISPLAY is not set)")
        try:
            self.sct = mss.mss()
            mon = self.sct.monitors[1]
        except Exception as exc:
            raise UserError(f"cannot capture the screen ({_short(exc)})") from None
        if region:
            x, y, w, h = region
            mon = {"left": x, "top": y, "width": w, "height": h}
        self.mon, self.name, self.fps, self.live = mon, "screen", 30.0, True

    def read(self):
        shot = np.asarray(self.sct.grab(self.mon))
        return np.ascontiguousarray(shot[:, :, 2::-1])

    def close(self):
        self.sct.close()


def open_webcam(index: int) -> Source:
    import cv2
    if os.name == "posix" and not _is_mac() and not Path(f"/dev/video{index}").exists():
        raise UserError(f"webcam {index} not found (no /dev/video{index})")
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:
        pass
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise UserError(f"webcam {index} cannot be opened (missing, busy, or no permission)")
    ok, _ = cap.read()
    if not ok:
        cap.release()
        raise UserError(f"webcam {index} gives no frames")
    return CaptureSource(cap, f"webcam:{index}", cap.get(cv2.CAP_PROP_FPS) or 30.0)


def open_source(spec: str, realtime: bool = False) -> Source:
    """webcam[:N] | screen[:x,y,w,h] | FILE | DIR | rtsp://... | http(s)://... (MJPEG or any stream)."""
    spec = str(spec)
    if spec == "webcam" or spec.startswith("webcam:"):
        arg = spec.partition(":")[2] or "0"
        if not arg.isdigit():
            raise UserError(f"bad webcam index in {spec!r}; use webcam or webcam:N")
        return open_webcam(int(arg))
    if spec == "screen" or spec.startswith("screen:"):
        arg = spec.partition(":")[2]
        region = None
        if arg:
            try:
                region = tuple(int(v) for v in arg.split(","))
            except ValueError:
                region = ()
            if len(region) != 4 or region[2] < 16 or region[3] < 16:
                raise UserError(f"bad screen region {arg!r}; use screen:x,y,w,h (w,h >= 16)")
        return ScreenSource(region)
    if "://" in spec:
        if not spec.split("://")[0].lower() in ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"):
            raise UserError(f"unsupported stream URL {spec!r}; use rtsp://, http:// or https://")
        return StreamSource(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path, realtime=realtime)
    if not path.exists():
        raise UserError(f"{spec}: no such file, folder or source (use webcam[:N], screen, FILE, DIR or a URL)")
    return FileSource(path, realtime=realtime)


def _is_mac() -> bool:
    import sys
    return sys.platform == "darwin"


def _short(exc) -> str:
    s = str(exc).strip()
    return s.splitlines()[0][:200] if s else type(exc).__name__
