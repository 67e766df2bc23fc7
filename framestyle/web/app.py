"""FastAPI app: one page, the stylise API, model files for the browser, and the live WebSocket.

Every asset is served from the package (no CDN). /docs uses the Swagger UI files fetched into
static/vendor/swagger by scripts/fetch_web_assets.sh; /openapi.json always works.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Literal, Optional

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import UserError
from ..zoo import default_model
from .device import FORMS, browser_ok, device_model_job, model_bytes, served_as_file, specialisable, style_vector_job
from .guard import InFlightLimit
from .methods import MethodName, card_method, find_model, method_entries, resolve
from .server import Busy, StylizePool, WebConfig
from .uploads import HTTPError, check_image_bytes

STATIC = Path(__file__).parent / "static"
VENDOR = Path(os.environ.get("FRAMESTYLE_WEB_VENDOR") or STATIC / "vendor")  # scripts/fetch_web_assets.sh fills it
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
WEBGPU_FILES = ("ort.webgpu.min.js", "ort-wasm-simd-threaded.asyncify.wasm", "ort-wasm-simd-threaded.asyncify.mjs")
SWAGGER_FILES = ("swagger/swagger-ui-bundle.js", "swagger/swagger-ui.css")
FETCH_HINT = "run scripts/fetch_web_assets.sh (needs npm) and restart the server"


def vendor_ready(files) -> bool:
    return all((VENDOR / f).is_file() and (VENDOR / f).stat().st_size > 0 for f in files)


def error(status: int, message: str, headers: Optional[dict] = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware: refuse bodies over `limit` bytes (413) or slower than `body_timeout` s (408), before the
    app parses them."""

    def __init__(self, app, limit: int, body_timeout: float):
        self.app, self.limit, self.body_timeout = app, limit, body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            declared = -1
        chunks, size, more = [], 0, True

        async def buffer():  # the body (at most `limit`), replayed to the app afterwards
            nonlocal size, more
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise ConnectionError("client went away")
                chunks.append(msg.get("body", b""))
                size += len(chunks[-1])
                more = msg.get("more_body", False)
                if size > self.limit:
                    return

        if declared <= self.limit:
            try:
                await asyncio.wait_for(buffer(), self.body_timeout)
            except ConnectionError:
                return
            except asyncio.TimeoutError:
                resp = error(408, f"request body not received within {self.body_timeout:g} s", {"Connection": "close"})
                return await resp(scope, receive, send)
        if declared > self.limit or size > self.limit:
            drained = size
            while more and drained < 8 * self.limit:  # read the rest so the client sees the answer
                msg = await receive()
                drained += len(msg.get("body", b""))
                more = msg.get("more_body", False) and msg["type"] != "http.disconnect"
            n = max(declared, size)
            resp = error(413, f"request body is {n / 2**20:.1f} MB; the limit is {self.limit / 2**20:.1f} MB",
                         {"Connection": "close"})
            return await resp(scope, receive, send)
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


ISOLATION = [(b"cross-origin-opener-policy", b"same-origin"), (b"cross-origin-embedder-policy", b"require-corp"),
             (b"cross-origin-resource-policy", b"same-origin")]


class CrossOriginIsolated:
    """ASGI middleware: COOP/COEP/CORP on every answer, so the page is cross-origin isolated
    (SharedArrayBuffer, hence WebAssembly threads for onnxruntime-web)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_isolated(msg):
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": [*msg.get("headers", []), *ISOLATION]}
            await send(msg)
        return await self.app(scope, receive, send_isolated)


def model_entry(m) -> dict:
    return {"name": m.name, "kind": m.kind, "builtin": m.builtin, "teacher": m.teacher,
            "multiple": m.multiple, "browser": browser_ok(m), "method": card_method(m), "styles": m.styles,
            "specialise": specialisable(m),
            "description": m.card.get("description", ""), "size_bytes": m.size_bytes,
            "default": m.builtin and m.name == default_model(), "use": m.use}


def stylize_job(pool: StylizePool, model: str, data: bytes, style_data: Optional[bytes], style: Optional[str],
                strength: float, preserve_color: bool, fmt: str) -> bytes:
    """Runs on a worker thread: decode, stylise with this worker's Stylizer, encode."""
    import hashlib

    from ..imageio import load_image
    img = load_image(data, "image")
    key = hashlib.sha1(style_data).hexdigest() if style_data else None
    st = pool.stylizer(model, style=style, style_image=style_data, style_key=key)
    st.strength, st.preserve_color = strength, preserve_color
    out = st.stylize(img)
    return encode(out, fmt)


def encode(arr, fmt: str, quality: int = 92) -> bytes:
    """PNG at zlib level 1 (about half the time of Pillow's default, same size on photos) or JPEG."""
    import io

    from PIL import Image
    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    else:
        Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def create_app(config: WebConfig) -> FastAPI:
    config.check()
    pool = StylizePool(config.workers, config.queue, config.ort_threads)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        pool.shutdown()

    app = FastAPI(title="framestyle", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Real-time neural style transfer on a CPU. Errors are JSON {\"error\": \"...\"}.")
    app.state.config, app.state.pool = config, pool

    async def pooled(what: str, job, *args):
        """Run a job on the worker pool; busy, slow and bad-input outcomes become JSON errors (429/504/400)."""
        try:
            return await pool.run(job, *args, timeout=config.timeout)
        except Busy as exc:
            raise HTTPError(429, str(exc), {"Retry-After": str(exc.retry_after)}) from None
        except asyncio.TimeoutError:
            raise HTTPError(504, f"{what} took longer than {config.timeout:g} s") from None
        except UserError as exc:
            raise HTTPError(400, str(exc)) from None
    app.add_middleware(BodyLimit, limit=2 * config.max_upload_bytes + 256 * 1024, body_timeout=config.timeout)
    app.add_middleware(CrossOriginIsolated)
    app.add_middleware(InFlightLimit, limit=config.max_in_flight)  # outermost: counts every request

    @app.exception_handler(HTTPError)
    async def _http_error(request: Request, exc: HTTPError):
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
        return error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(404)
    async def _not_found(request: Request, exc):
        return error(404, f"not found: {request.url.path}")

    @app.exception_handler(405)
    async def _bad_method(request: Request, exc):
        return error(405, f"method {request.method} not allowed on {request.url.path}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return error(500, f"internal error: {type(exc).__name__}")

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    def docs():
        if not vendor_ready(SWAGGER_FILES):
            return HTMLResponse(f"<p>API docs need the Swagger UI files: {FETCH_HINT}. "
                                "The schema is at <a href='/openapi.json'>/openapi.json</a>.</p>", 404)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="framestyle API",
                                   swagger_js_url="/static/vendor/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    @app.get("/api/health", summary="liveness and pool load")
    def health():
        return {"ok": True, **pool.stats()}

    @app.get("/api/info", summary="limits and which page features are available")
    def info():
        return {"max_upload_bytes": config.max_upload_bytes, "max_pixels": config.max_pixels,
                "timeout_s": config.timeout, "workers": config.workers, "queue": config.queue,
                "on_device": vendor_ready(ORT_FILES), "docs": vendor_ready(SWAGGER_FILES),
                "webgpu": vendor_ready(WEBGPU_FILES), "default_model": default_model(),
                "on_device_hint": None if vendor_ready(ORT_FILES) else FETCH_HINT}

    @app.get("/api/models", summary="the model zoo")
    def models():
        from ..zoo import list_models
        models = list_models()
        return {"models": [model_entry(m) for m in models], "methods": method_entries(models)}

    @app.get("/models/{name}.onnx", summary="a model file for on-device inference in the page: fixed-style "
             "models and the any-painting student; form=onnx (as shipped) or rgba (uint8 RGBA frame in and out)",
             response_class=Response)
    def model_file(name: str, form: Literal[FORMS] = "onnx"):  # type: ignore[valid-type]
        m = find_model(name)
        if not served_as_file(m):
            hint = "; one style of it: POST /api/device-model" if specialisable(m) else ""
            raise HTTPError(404, f"model {name!r} is {m.kind}-style; the page runs fixed-style models and the "
                                 f"student any-painting model{hint}")
        try:
            data = model_bytes(m.path, form)
        except Exception as exc:  # a graph the rewrite does not handle: the page falls back to form=onnx
            raise HTTPError(400, f"model {name!r} has no {form} form ({type(exc).__name__})") from None
        return Response(data, media_type="application/octet-stream", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/device-model", summary="one style of a conditional student (a multi-style index or blend, or "
              "a style image for a specialisable any-painting model) as its own fixed int8 ONNX file, for the page "
              "to run on the device like the default", response_class=Response,
              responses={200: {"content": {"application/octet-stream": {}}},
                         400: {"description": "not specialisable, or a bad style"}, 404: {"description": "unknown model"}})
    async def device_model(model: str = Form(..., description="a model from /api/models with specialise: true"),
                           style: Optional[str] = Form(None, description="multi-style models: 7 or 3:0.5,12:0.5"),
                           style_image: Optional[UploadFile] = File(None, description="any-painting models"),
                           form: Literal[FORMS] = Form("rgba")):  # type: ignore[valid-type]
        m = find_model(model)
        if not specialisable(m):
            raise HTTPError(400, f"model {m.name!r} is not specialisable; "
                                 + (f"GET /models/{m.name}.onnx" if served_as_file(m) else "use it on the server"))
        style_data = None
        if style_image is not None and style_image.filename:
            style_data = await style_image.read()
            check_image_bytes(style_data, style_image.content_type, "style_image", config.max_upload_bytes,
                              config.max_pixels)
        if m.kind == "multi" and style_data is not None:
            raise HTTPError(400, f"model {m.name!r} takes a style index or blend, not a style image")
        if m.kind == "arbitrary" and style_data is None:
            raise HTTPError(400, f"model {m.name!r} paints any style: upload a style_image")
        data = await pooled("the style's model", device_model_job, m, style, style_data, form)
        return Response(data, media_type="application/octet-stream")

    @app.post("/api/style-vector", summary="the 100-number style vector of a painting, for the any-painting "
              "student running in the page")
    async def style_vector(style_image: UploadFile = File(..., description="JPEG, PNG, WebP or BMP")):
        data = await style_image.read()
        check_image_bytes(data, style_image.content_type, "style_image", config.max_upload_bytes,
                          config.max_pixels)
        t0 = time.perf_counter()
        vec = await pooled("the style vector", style_vector_job, data)
        return {"vector": vec, "ms": round((time.perf_counter() - t0) * 1000, 1)}

    @app.post("/api/stylize", summary="stylise one image", response_class=Response,
              responses={200: {"content": {"image/png": {}, "image/jpeg": {}}},
                         400: {"description": "bad image or parameters, or the method's model is not installed"},
                         404: {"description": "unknown model"},
                         413: {"description": "too many bytes or pixels"}, 415: {"description": "not an image"},
                         422: {"description": "invalid form fields"}, 429: {"description": "busy; see Retry-After"},
                         504: {"description": "timed out"}})
    async def stylize(image: UploadFile = File(..., description="JPEG, PNG, WebP or BMP"),
                      model: Optional[str] = Form(None, description="a name from /api/models (default: the "
                                                  "one marked default; with a style_image, the method's model)"),
                      strength: float = Form(1.0, ge=0.0, le=1.0), preserve_color: bool = Form(False),
                      style: Optional[str] = Form(None, description="multi-style models: index or blend 3:0.5,7:0.5"),
                      style_image: Optional[UploadFile] = File(None, description="arbitrary models: the style"),
                      method: Optional[MethodName] = Form(None, description="with a style_image: magenta "
                                                          "(default), student or adain; /api/models lists "
                                                          "which are installed"),
                      format: Literal["png", "jpeg"] = Form("png")):
        if model:
            find_model(model)  # 404 before reading the uploads
        data = await image.read()
        check_image_bytes(data, image.content_type, "image", config.max_upload_bytes, config.max_pixels)
        style_data = None
        if style_image is not None and style_image.filename:
            style_data = await style_image.read()
            check_image_bytes(style_data, style_image.content_type, "style_image", config.max_upload_bytes,
                              config.max_pixels)
        m = resolve(model, method, style_data is not None)
        out = await pooled("stylisation", stylize_job, m.name, data, style_data, style, strength, preserve_color,
                           format)
        return Response(out, media_type=f"image/{format}",
                        headers={"Content-Disposition": f'inline; filename="stylized.{"png" if format == "png" else "jpg"}"'})

    from .ws import add_ws_route
    add_ws_route(app, config, pool)
    if VENDOR != STATIC / "vendor" and VENDOR.is_dir():  # FRAMESTYLE_WEB_VENDOR: the files are elsewhere
        app.mount("/static/vendor", StaticFiles(directory=VENDOR), name="vendor")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

