"""Connection limits in front of the app: slow or idle clients are dropped, the service keeps answering.

uvicorn has no timeout for a request's headers (a client that sends half a request holds its connection
forever) and its `limit_concurrency` counts such connections, answering everyone else a plain-text 503. So:

- `guarded_protocol(base)`: the HTTP protocol class with a header deadline (a connection that has not finished
  a request's headers within `header_timeout` seconds of opening, or of its last answer, is closed) and a cap on
  open connections (a new one beyond `max_connections` closes the oldest connection still waiting for headers;
  if none is waiting, the new one is closed).
- `InFlightLimit`: ASGI middleware answering JSON 503 (WebSocket: close 1013) beyond `limit` requests in
  progress, except /api/health, which always answers.
"""
from __future__ import annotations

import time


def guarded_protocol(base, header_timeout: float, max_connections: int):
    """A subclass of uvicorn's HTTP protocol `base` (httptools or h11) with the header deadline and the cap."""
    waiting = {}  # protocol -> time it started waiting for headers (insertion order = oldest first)
    open_ = set()
    stats = {"header_timeouts": 0, "evicted": 0, "refused": 0}

    class Guarded(base):
        def connection_made(self, transport):
            if len(open_) >= max_connections and not _evict_oldest():
                stats["refused"] += 1
                transport.abort()
                return
            open_.add(self)
            super().connection_made(transport)
            self._fs_wait()

        def _fs_wait(self):
            waiting.pop(self, None)
            waiting[self] = time.monotonic()
            timer = getattr(self, "_fs_timer", None)
            if timer is not None:
                timer.cancel()
            self._fs_timer = self.loop.call_later(header_timeout, self._fs_expire)

        def _fs_done(self):
            waiting.pop(self, None)
            timer = getattr(self, "_fs_timer", None)
            if timer is not None:
                timer.cancel()
                self._fs_timer = None

        def _fs_expire(self):
            self._fs_timer = None
            if self in waiting and not self.transport.is_closing():
                stats["header_timeouts"] += 1
                self.transport.abort()

        def on_headers_complete(self):  # httptools
            self._fs_done()
            return super().on_headers_complete()

        def on_response_complete(self):
            super().on_response_complete()
            if self in open_ and not self.transport.is_closing():
                self._fs_wait()  # keep-alive: the next request's headers have the same deadline

        def handle_websocket_upgrade(self, *args):
            self._fs_done()
            open_.discard(self)
            return super().handle_websocket_upgrade(*args)

        def connection_lost(self, exc):
            self._fs_done()
            open_.discard(self)
            super().connection_lost(exc)

    def _evict_oldest() -> bool:
        for proto in waiting:
            waiting.pop(proto)
            stats["evicted"] += 1
            proto.transport.abort()
            open_.discard(proto)
            return True
        return False

    if hasattr(base, "handle_events"):  # h11 has no header callback: headers are done once a request cycle runs
        def handle_events(self):
            base.handle_events(self)
            if getattr(self, "cycle", None) is not None and not getattr(self.cycle, "response_complete", True):
                self._fs_done()
        Guarded.handle_events = handle_events
    Guarded.stats = stats
    Guarded.open_connections = open_
    return Guarded


def uvicorn_http_class():
    """The HTTP protocol uvicorn would pick itself ('auto'): httptools when installed, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # imports httptools
        return HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol
        return H11Protocol


class InFlightLimit:
    """ASGI middleware: at most `limit` HTTP requests and WebSockets in progress; /api/health is exempt."""

    def __init__(self, app, limit: int, exempt=("/api/health",)):
        self.app, self.limit, self.exempt = app, limit, exempt
        self.active = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self.exempt:
            return await self.app(scope, receive, send)
        if self.active >= self.limit:
            if scope["type"] == "websocket":  # accept, then close with a reason (a refusal before accept is a bare 403)
                await receive()
                await send({"type": "websocket.accept"})
                return await send({"type": "websocket.close", "code": 1013,
                                   "reason": f"server busy: {self.limit} connections in progress"})
            from .app import error
            resp = error(503, f"server busy: {self.limit} requests in progress; retry shortly",
                         {"Retry-After": "1", "Connection": "close"})
            return await resp(scope, receive, send)
        self.active += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.active -= 1


def lingering_ws_class(linger_s: float = 5.0):
    """uvicorn's sans-I/O WebSocket protocol, except that after a protocol error (e.g. a message over
    `ws_max_size`: close 1009 with a reason) it keeps reading and discarding the client's data for up to
    `linger_s` seconds before closing. Closing with unread data makes the kernel send a reset, which can destroy
    the close frame before the client reads it."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    class Lingering(WebSocketsSansIOProtocol):
        _fs_lingering = False

        def handle_parser_exception(self):  # the base class's, without its immediate transport.close()
            sent = self.conn.close_sent
            self.queue.put_nowait({"type": "websocket.disconnect", "code": sent.code, "reason": sent.reason})
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self._fs_lingering = True
            if self.transport.can_write_eof():
                self.transport.write_eof()
            # as the closing handshake's timer: uvicorn then leaves the socket open when the app returns
            self.close_timer = self.loop.call_later(linger_s, self.transport.close)

        def data_received(self, data: bytes) -> None:
            if not self._fs_lingering:
                super().data_received(data)

        def eof_received(self):
            if self._fs_lingering:
                self.transport.close()
            return super().eof_received()

    return Lingering
