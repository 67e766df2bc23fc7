"""Outputs for `framestyle live`: window | FILE.mp4 | virtualcam | mjpeg[:PORT] | null.

Each sink has `write(frame_rgb, overlay="") -> key or None` (a pressed key, window only) and `close()`.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import UserError
from .codec import OUT_FORMATS, VideoWriter, even_size, fit_frame

OPENCV_GUI_HINT = ("a window needs the full OpenCV build: pip uninstall -y opencv-python-headless && "
                   "pip install opencv-python (or use --sink mjpeg:8080 and open http://127.0.0.1:8080)")


class Sink:
    name = "sink"

    def write(self, frame: np.ndarray, overlay: str = "") -> Optional[str]:
        return None

    def close(self) -> None:
        pass


class NullSink(Sink):
    name = "null"


class FileSink(Sink):
    """H.264 file written atomically (temp file renamed at close)."""

    def __init__(self, path, fps: float):
        self.path, self.fps, self.name = Path(path), fps, str(path)
        self.w: Optional[VideoWriter] = None

    def write(self, frame, overlay=""):
        if self.w is None:
            self.size = even_size(frame.shape[1], frame.shape[0])
            self.w = VideoWriter(self.path, self.size[0], self.size[1], self.fps)
        self.w.write(fit_frame(frame, self.size))
        return None

    def close(self):
        if self.w is not None:
            self.w.close()

    def abort(self):
        if self.w is not None:
            self.w.abort()


class WindowSink(Sink):
    """cv2.imshow with an FPS/latency overlay; returns the pressed key."""

    name = "window"

    def __init__(self, title: str = "framestyle live"):
        import cv2
        self.cv2, self.title = cv2, title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            msg = str(exc)
            if "not implemented" in msg.lower() or "gtk" in msg.lower() or "rebuild" in msg.lower():
                raise UserError(OPENCV_GUI_HINT) from None
            raise UserError(f"cannot open a window ({msg.strip().splitlines()[-1][:160]})") from None

    def write(self, frame, overlay=""):
        cv2 = self.cv2
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if overlay:
            for i, line in enumerate(overlay.split("\n")):
                org = (10, 24 + 22 * i)
                cv2.putText(bgr, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
                cv2.putText(bgr, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(self.title, bgr)
        key = cv2.waitKey(1) & 0xFF
        return chr(key) if key != 255 else None

    def close(self):
        try:
            self.cv2.destroyWindow(self.title)
        except self.cv2.error:
            pass


class VirtualCamSink(Sink):
    name = "virtualcam"

    def __init__(self, fps: float):
        try:
            import pyvirtualcam  # noqa: F401
        except ImportError:
            raise UserError("--sink virtualcam needs pyvirtualcam: pip install pyvirtualcam "
                            "(and on Linux the v4l2loopback kernel module)") from None
        self.fps, self.cam = fps, None

    def write(self, frame, overlay=""):
        import pyvirtualcam
        if self.cam is None:
            try:
                self.cam = pyvirtualcam.Camera(width=frame.shape[1], height=frame.shape[0], fps=self.fps)
            except Exception as exc:
                raise UserError(f"cannot start the virtual camera ({exc})") from None
        self.cam.send(np.ascontiguousarray(frame))
        return None

    def close(self):
        if self.cam is not None:
            self.cam.close()


class MjpegSink(Sink):
    """Serve the newest frame as multipart MJPEG on http://127.0.0.1:PORT/stream (page at /)."""

    def __init__(self, port: int = 8080, host: str = "127.0.0.1", quality: int = 80):
        self.quality = quality
        self.cond = threading.Condition()
        self.jpeg: Optional[bytes] = None
        self.seq = 0
        self.closed = False
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                if self.path.startswith("/stream"):
                    sink._stream(self)
                elif self.path in ("/", "/index.html"):
                    body = b"<html><body style='margin:0;background:#000'><img src='/stream' " \
                           b"style='max-width:100%'></body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise UserError(f"cannot serve MJPEG on {host}:{port} ({exc.strerror or exc})") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/stream"
        self.name = f"mjpeg:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="mjpeg", daemon=True)
        self.thread.start()

    def _stream(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        seen = 0  # seq 0 = no frame yet: a viewer that connects early waits for the first one
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(lambda: self.closed or self.seq != seen, timeout=1.0)
                    if self.closed:
                        return
                    if self.seq == seen:
                        continue
                    jpeg, seen = self.jpeg, self.seq
                h.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                              + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def write(self, frame, overlay=""):
        import cv2
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        with self.cond:
            self.jpeg, self.seq = buf.tobytes(), self.seq + 1
            self.cond.notify_all()
        return None

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


def open_sink(spec: str, fps: float = 30.0) -> Sink:
    spec = str(spec)
    if spec == "null":
        return NullSink()
    if spec == "window":
        return WindowSink()
    if spec == "virtualcam":
        return VirtualCamSink(fps)
    if spec == "mjpeg" or spec.startswith("mjpeg:"):
        arg = spec.partition(":")[2] or "8080"
        if not arg.isdigit() or not 0 <= int(arg) < 65536:
            raise UserError(f"bad MJPEG port {arg!r}; use mjpeg:PORT (1-65535)")
        return MjpegSink(int(arg))
    if is_file_sink(spec):
        if Path(spec).is_dir():
            raise UserError(f"{spec}: is a folder")
        return FileSink(spec, fps)
    raise UserError(f"unknown sink {spec!r}; use window, FILE.mp4, virtualcam, mjpeg[:PORT] or null")


def is_file_sink(spec: str) -> bool:
    """A sink that writes a video file (its path must pass the output check)."""
    return Path(str(spec)).suffix.lower() in OUT_FORMATS and not str(spec).startswith("mjpeg")
