"""Live server-side stylisation over a WebSocket: JPEG frames in, stylised JPEG frames out.

    ws://HOST/ws/stylize?model=NAME&strength=1&preserve_color=0&style=0&quality=80

Client -> server: binary messages are encoded frames (JPEG or PNG); a text message {"strength": 0.5,
"preserve_color": true} changes settings. Server -> client, per processed frame: a text message
{"seq", "received", "processed", "dropped", "ms"} then the binary JPEG. Only the newest waiting frame is
processed: a frame that arrives while another waits replaces it (counted in "dropped"). Errors come as
{"error": "..."}; a bad model or a full server closes the socket (codes 1008 / 1013).
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Optional

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ..errors import UserError
from ..runtime.stylizer import check_strength
from .server import Busy, StylizePool, WebConfig
from .uploads import HTTPError, check_image_bytes


def frame_job(pool: StylizePool, model: str, data: bytes, style: Optional[str], strength: float,
              preserve_color: bool, quality: int) -> bytes:
    from ..imageio import encode_image, load_image
    frame = load_image(data, "frame")
    st = pool.stylizer(model, style=style)
    st.strength, st.preserve_color = strength, preserve_color
    return encode_image(st.process(frame), "JPEG", quality=quality)


class _Live:
    """State of one connection."""

    def __init__(self, ws: WebSocket, config: WebConfig, pool: StylizePool, model: str, params: dict):
        self.ws, self.config, self.pool, self.model = ws, config, pool, model
        self.style = params.get("style")
        self.strength = check_strength(params.get("strength", 1.0))
        self.preserve_color = str(params.get("preserve_color", "0")).lower() in ("1", "true", "yes", "on")
        self.quality = min(95, max(30, int(params.get("quality", 80))))
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
                except UserError as exc:
                    await self.ws.send_json({"error": str(exc)})

    async def process_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.latest is None:
                continue
            seq, data = self.latest
            self.latest = None
            try:
                check_image_bytes(data, None, "frame", self.config.max_upload_bytes, self.config.max_pixels)
                t0 = time.perf_counter()
                out = await self.pool.run(frame_job, self.model, data, self.style, self.strength,
                                          self.preserve_color, self.quality, timeout=self.config.timeout)
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
            self.processed += 1
            await self.ws.send_json({"seq": seq, "received": self.received, "processed": self.processed,
                                     "dropped": self.dropped, "ms": round((time.perf_counter() - t0) * 1000, 1)})
            await self.ws.send_bytes(out)


def add_ws_route(app: FastAPI, config: WebConfig, pool: StylizePool) -> None:
    active = {"n": 0}

    @app.websocket("/ws/stylize")
    async def ws_stylize(ws: WebSocket):
        await ws.accept()
        params = dict(ws.query_params)
        model = params.get("model", "starry-fast")
        try:
            from .app import find_model
            m = find_model(model)
            if m.kind == "arbitrary":
                raise HTTPError(400, f"model {model!r} needs a style image; live mode takes fixed or multi-style "
                                     "models")
            live = _Live(ws, config, pool, m.name, params)
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
        try:
            await live.receive_loop()
        except WebSocketDisconnect:
            pass
        finally:
            active["n"] -= 1
            worker.cancel()
            try:
                await worker
            except BaseException:  # cancelled, or the peer went away mid-send: the connection is over
                pass
