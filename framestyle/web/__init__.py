"""Web app: `framestyle serve` (FastAPI + uvicorn), a one-page UI, on-device (onnxruntime-web) and server-side
webcam stylisation. `create_app(WebConfig(...))` builds the ASGI app; `serve(config)` runs it."""
from .server import StylizePool, WebConfig, serve, spawn_server  # noqa: F401


def create_app(config=None):
    """The FastAPI app for `config` (default limits)."""
    from .app import create_app as _create
    return _create(config or WebConfig())
