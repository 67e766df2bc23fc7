"""Live server-side stylisation over a WebSocket: JPEG frames in, stylised JPEG frames out.

    ws://HOST/ws/stylize?model=NAME&method=student&strength=1&preserve_color=0&style=0&quality=80

Client -> server: binary messages are encoded frames (JPEG or PNG); a text message {"strength": 0.5,
"preserve_color": true, "method": "student", "style_image": "<base64 or data: URL>"} changes settings.
`model` (fixed or multi-style) runs while no style image is set; once one is sent, frames run the arbitrary
`method` (magenta|student|adain, default magenta) or an arbitrary `model`; "style_image": null goes back.
Server -> client, per processed frame: a text message {"seq", "received", "processed", "dropped", "ms"} then
the binary JPEG. Only the newest waiting frame is processed: a frame that arrives while another waits replaces
it (counted in "dropped"). Errors come as {"error": "..."}; a bad model or method, or a full server, closes
the socket (codes 1008 / 1013).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from typing import Optional

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ..errors import UserError
from ..runtime.stylizer import check_strength
from ..zoo import default_model
from .methods import DEFAULT_METHOD, card_method, check_method, find_model, method_model
from .server import Busy, StylizePool, WebConfig
from .uploads import HTTPError, check_image_bytes


def frame_job(pool: StylizePool, model: str, data: bytes, style: Optional[str], strength: float,
              preserve_color: bool, quality: int, style_data: Optional[bytes] = None,
              style_key: Optional[str] = None) -> bytes:
    from ..imageio import encode_image, load_image
    frame = load_image(data, "frame")
    st = pool.stylizer(model, style=style, style_image=style_data, style_key=style_key)
    st.strength, st.preserve_color = strength, preserve_color
    return encode_image(st.process(frame), "JPEG", quality=quality)


def quality_param(text) -> int:
    """The `quality` query parameter: an integer, clamped to 30..95 (default 80)."""
    if text in (None, ""):
        return 80
    try:
        return min(95, max(30, int(text)))
    except ValueError:
        raise UserError(f"quality: expected an integer JPEG quality 30..95, got {text[:40]!r}") from None


NO_STYLE = 'send a style image first: a text message {"style_image": "<base64 JPEG or PNG>"}'


class _Live:
    """State of one connection."""

    def __init__(self, ws: WebSocket, config: WebConfig, pool: StylizePool, params: dict):
        self.ws, self.config, self.pool = ws, config, pool
        method = params.get("method") or None
        m = find_model(params.get("model") or default_model())
        self.model = None if m.kind == "arbitrary" else m.name   # runs while no style image is set
        self.arbitrary = self.method = None                       # runs once a style image is set
        if m.kind == "arbitrary":
            if method is not None and check_method(method) != card_method(m):
                raise HTTPError(400, f"model {m.name!r} runs method {card_method(m)!r}, not {method!r}")
            self.arbitrary, self.method = m.name, card_method(m)
        elif method is not None:
            self.set_method(method)
        self.style_data = self.style_key = None
        self.style = params.get("style")
        if self.style not in (None, "") and m.kind == "multi":  # checked now, not on every frame
            from ..zoo.teachers import parse_style
            parse_style(self.style, int(m.card.get("styles", 26)))
        self.strength = check_strength(params.get("strength", 1.0))
        self.preserve_color = str(params.get("preserve_color", "0")).lower() in ("1", "true", "yes", "on")
        self.quality = quality_param(params.get("quality"))
        self.latest = None  # (seq, bytes) waiting to be processed
        self.received = self.processed = self.dropped = 0
        self.wake = asyncio.Event()
        self.closed = False

    def settings(self, text: str) -> None:
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            raise UserError(f"bad settings message ({exc})") from None
        if "strength" in msg:
            self.strength = check_strength(msg["strength"])
        if "preserve_color" in msg:
            self.preserve_color = bool(msg["preserve_color"])
        if msg.get("method"):
            self.set_method(msg["method"])
        if "style_image" in msg:
            self.set_style_image(msg["style_image"])

    def set_method(self, method) -> None:
        self.arbitrary, self.method = method_model(check_method(str(method))).name, str(method)

    def set_style_image(self, text) -> None:
        if not text:
            self.style_data = self.style_key = None
            return
        if not isinstance(text, str):
            raise UserError("style_image: send the picture as a base64 string or a data: URL")
        try:
            data = base64.b64decode(text.split(",", 1)[1] if text.startswith("data:") else text, validate=True)
        except (binascii.Error, ValueError, IndexError):
            raise UserError("style_image: not valid base64") from None
        check_image_bytes(data, None, "style_image", self.config.max_upload_bytes, self.config.max_pixels)
        if self.arbitrary is None:
            self.set_method(DEFAULT_METHOD)
        self.style_data, self.style_key = data, hashlib.sha1(data).hexdigest()

    async def receive_loop(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes") is not None:
                if self.latest is not None:
                    self.dropped += 1  # stale: replaced by the newer frame
                self.latest = (self.received, msg["bytes"])
                self.received += 1
                self.wake.set()
            elif msg.get("text") is not None:
                try:
                    self.settings(msg["text"])
                except (HTTPError, UserError) as exc:
                    await self.ws.send_json({"error": getattr(exc, "message", None) or str(exc)})

    async def process_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.latest is None:
                continue
            seq, data = self.latest
            self.latest = None
            model = self.arbitrary if self.style_key is not None else self.model
            try:
                if model is None:
                    raise UserError(NO_STYLE)
                check_image_bytes(data, None, "frame", self.config.max_upload_bytes, self.config.max_pixels)
                t0 = time.perf_counter()
                out = await self.pool.run(frame_job, model, data, self.style, self.strength, self.preserve_color,
                                          self.quality, self.style_data, self.style_key,
                                          timeout=self.config.timeout)
            except Busy:
                if self.latest is None:  # keep this frame unless a newer one came; try again shortly
                    self.latest = (seq, data)
                await asyncio.sleep(0.05)
                self.wake.set()
                continue
            except (HTTPError, UserError, asyncio.TimeoutError) as exc:
                msg = exc.message if isinstance(exc, HTTPError) else (str(exc) or "frame timed out")
                await self.ws.send_json({"seq": seq, "error": msg})
                continue
            except Exception as exc:  # a model that breaks at run time: say so and end the session cleanly
                await self.ws.send_json({"seq": seq, "error": f"internal error: {type(exc).__name__}; "
                                                             "this model cannot run here"})
                await self.ws.close(code=1011)
                return
            self.processed += 1
            await self.ws.send_json({"seq": seq, "received": self.received, "processed": self.processed,
                                     "dropped": self.dropped, "ms": round((time.perf_counter() - t0) * 1000, 1)})
            await self.ws.send_bytes(out)


def add_ws_route(app: FastAPI, config: WebConfig, pool: StylizePool) -> None:
    active = {"n": 0}

    @app.websocket("/ws/stylize")
    async def ws_stylize(ws: WebSocket):
        await ws.accept()
        try:
            live = _Live(ws, config, pool, dict(ws.query_params))
        except (HTTPError, UserError, ValueError) as exc:
            await ws.send_json({"error": getattr(exc, "message", None) or str(exc)})
            await ws.close(code=1008)
            return
        if active["n"] >= pool.capacity:
            await ws.send_json({"error": f"too many live connections ({pool.capacity}); try again later"})
            await ws.close(code=1013)
            return
        active["n"] += 1
        worker = asyncio.create_task(live.process_loop())
        reader = asyncio.create_task(live.receive_loop())
        try:  # the session ends when the client leaves or the worker gives up (it closes the socket first)
            await asyncio.wait([worker, reader], return_when=asyncio.FIRST_COMPLETED)
        except WebSocketDisconnect:
            pass
        finally:
            active["n"] -= 1
            for task in (worker, reader):
                task.cancel()
                try:
                    await task
                except BaseException:  # cancelled, or the peer went away mid-send: the connection is over
                    pass
