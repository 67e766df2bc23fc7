"""Camera-frame input fused into the model: YUV 4:2:0 (NV12 or I420) -> RGB -> the student.

Input layout (what cameras and decoders deliver): ONE uint8 buffer of shape [H*3/2, W]:
  rows 0..H-1           the Y plane;
  NV12: rows H..3H/2-1  interleaved U,V pairs (U0 V0 U1 V1 ...), each [H/2, W/2] chroma sample per 2x2 block;
  I420: the next H*W/4 bytes are the U plane [H/2, W/2], then the V plane [H/2, W/2] (planar).
H and W must be even (and multiples of the model's `multiple`). Chroma is upsampled by repetition (as
OpenCV does). Colour matrix BT.601, video range (Y 16..235, what cv2.COLOR_YUV2RGB_NV12/I420 assume;
Y below 16 is clamped like OpenCV) or full range (JPEG, Y 0..255). RGB is rounded to whole 8-bit levels,
then divided by 255, exactly like feeding the RGB model a uint8 frame. Output: the model's [1,3,H,W] 0..1 RGB.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError

FORMATS = ("rgb", "nv12", "i420")
RANGES = ("video", "full")
# (luma scale, luma offset, R<-V, G<-U, G<-V, B<-U)
COEFFS = {"video": (255.0 / 219.0, 16.0, 1.596027, -0.391762, -0.812968, 2.017232),
          "full": (1.0, 0.0, 1.402, -0.344136, -0.714136, 1.772)}


def _modules():
    import torch
    import torch.nn as nn

    class YuvToRgb(nn.Module):
        def __init__(self, fmt: str, rng: str, hw=None):
            super().__init__()
            self.fmt = fmt
            self.c = COEFFS[rng]
            self.hw = hw  # fixed (H, W): plain ints in the graph; None: read from the input shape

        def forward(self, buf):
            if self.hw:
                h, w = self.hw
            else:
                rows, w = buf.shape[0], buf.shape[1]
                h = rows * 2 // 3
            f = buf.to(torch.float32)
            y = f[:h]
            if self.fmt == "nv12":
                uv = f[h:].reshape(h // 2, w // 2, 2)
                u, v = uv[:, :, 0], uv[:, :, 1]
            else:
                flat = f.reshape(-1)
                n = h * w
                q = n // 4
                u = flat[n:n + q].reshape(h // 2, w // 2)
                v = flat[n + q:n + 2 * q].reshape(h // 2, w // 2)
            u = _up(u - 128.0, h, w)
            v = _up(v - 128.0, h, w)
            ys, yo, rv, gu, gv, bu = self.c
            yy = torch.clamp(y - yo, min=0.0) * ys if yo else y
            rgb = torch.stack([yy + rv * v, yy + gu * u + gv * v, yy + bu * u])
            return (torch.clamp(torch.round(rgb), 0.0, 255.0) * (1.0 / 255.0))[None]

    def _up(c, h, w):
        hh, ww = c.shape[0], c.shape[1]
        return c[:, None, :, None].expand(hh, 2, ww, 2).reshape(h, w)

    class YuvModel(nn.Module):
        def __init__(self, net, fmt: str, rng: str, nhwc: bool = False, hw=None):
            super().__init__()
            self.convert = YuvToRgb(fmt, rng, hw)
            self.net = net
            self.nhwc = nhwc

        def forward(self, buf):
            out = self.net(self.convert(buf))
            return out.permute(0, 2, 3, 1) if self.nhwc else out

    class NhwcModel(nn.Module):
        """[1,H,W,3] in, [1,H,W,3] out (TFLite / mobile convention)."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

    return YuvToRgb, YuvModel, NhwcModel


def wrap(net, input_format: str = "rgb", rng: str = "video", nhwc: bool = False, hw=None):
    """The module to export: `net` behind a YUV converter and/or NHWC transposes (hw: fixed (H, W) or None)."""
    if input_format not in FORMATS:
        raise UserError(f"--input-format must be one of {', '.join(FORMATS)}, got {input_format!r}")
    if rng not in RANGES:
        raise UserError(f"--range must be one of {', '.join(RANGES)}, got {rng!r}")
    _, YuvModel, NhwcModel = _modules()
    if input_format == "rgb":
        return (NhwcModel(net) if nhwc else net).eval()
    return YuvModel(net, input_format, rng, nhwc, tuple(hw) if hw else None).eval()


def yuv_to_rgb_module(fmt: str, rng: str = "video", hw=None):
    return _modules()[0](fmt, rng, hw).eval()


def input_name(input_format: str) -> str:
    return "input" if input_format == "rgb" else "yuv"


def sample_input(input_format: str, h: int, w: int, nhwc: bool = False, img: np.ndarray = None) -> np.ndarray:
    """A real-looking input in the exported layout (from `img`, uint8 HxWx3 RGB, or a smooth test pattern)."""
    if img is None:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), 0.5 + 0.5 * np.sin(xx / 7 + yy / 5)], -1)
        img = (img * 255).astype(np.uint8)
    if input_format == "rgb":
        x = img.astype(np.float32) / 255.0
        return x[None] if nhwc else x.transpose(2, 0, 1)[None].copy()
    return rgb_to_yuv420(img, input_format, "video")


def rgb_to_yuv420(img: np.ndarray, fmt: str, rng: str = "video") -> np.ndarray:
    """uint8 HxWx3 RGB -> uint8 [H*3/2, W] NV12 or I420 (BT.601; chroma averaged over 2x2 blocks)."""
    import cv2
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        raise UserError(f"YUV 4:2:0 needs an even width and height, got {w}x{h}")
    if rng == "video":
        i420 = cv2.cvtColor(img, cv2.COLOR_RGB2YUV_I420)
    else:
        ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.float32)
        sub = ycc.reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3))
        chroma = np.round(sub[..., [2, 1]]).clip(0, 255).astype(np.uint8)  # U=Cb, V=Cr
        i420 = np.concatenate([ycc[..., 0].astype(np.uint8).reshape(-1), chroma[..., 0].reshape(-1),
                               chroma[..., 1].reshape(-1)]).reshape(h * 3 // 2, w)
    if fmt == "i420":
        return i420
    flat = i420.reshape(-1)
    n, q = h * w, h * w // 4
    uv = np.stack([flat[n:n + q], flat[n + q:]], -1).reshape(h // 2, w)
    return np.concatenate([i420[:h], uv], 0)


def reference_rgb(buf: np.ndarray, fmt: str, rng: str = "video") -> np.ndarray:
    """OpenCV's conversion of a [H*3/2, W] buffer to uint8 RGB (full range via YCrCb with repeated chroma)."""
    import cv2
    if rng == "video":
        return cv2.cvtColor(buf, cv2.COLOR_YUV2RGB_NV12 if fmt == "nv12" else cv2.COLOR_YUV2RGB_I420)
    h, w = buf.shape[0] * 2 // 3, buf.shape[1]
    if fmt == "nv12":
        uv = buf[h:].reshape(h // 2, w // 2, 2)
        u, v = uv[..., 0], uv[..., 1]
    else:
        flat, n = buf.reshape(-1), h * w
        u = flat[n:n + n // 4].reshape(h // 2, w // 2)
        v = flat[n + n // 4:].reshape(h // 2, w // 2)
    up = lambda c: c.repeat(2, 0).repeat(2, 1)  # noqa: E731
    ycrcb = np.stack([buf[:h], up(v), up(u)], -1)
    return cv2.cvtColor(np.ascontiguousarray(ycrcb), cv2.COLOR_YCrCb2RGB)
