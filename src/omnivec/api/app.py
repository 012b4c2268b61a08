"""The HTTP app: Gemini and OpenAI embedding APIs, Files and batch APIs, health and metrics, in one factory.

:func:`create_app` wires the served model (an :class:`~omnivec.embedder.Embedder` behind a
:class:`~omnivec.engine.batcher.Batcher`), the file store, the error table and three ASGI
middlewares, outermost first: metrics, API keys, body size; inside them
:class:`~omnivec.api.hot_routes.HotRoutes` answers the embedding routes without FastAPI's
dispatch. The model loads on the worker thread after start-up, so ``/healthz`` answers at once
and ``/readyz`` once it is loaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Receive, Scope, Send

from omnivec import __version__
from omnivec.api import batches, files, gemini, openai, search
from omnivec.api.auth import ApiKeyMiddleware, redact_keys_in_access_log
from omnivec.api.errors import flavor_of, install_error_handlers, response_for
from omnivec.api.hot_routes import HotRoutes, replay_body
from omnivec.api.metrics import Metrics, MetricsMiddleware
from omnivec.api.served import ServedModel
from omnivec.api.settings import ServerSettings, load_settings
from omnivec.embedder import Embedder
from omnivec.errors import PayloadTooLarge, Unavailable

logger = logging.getLogger(__name__)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413 before the app parses them.

    A declared ``Content-Length`` is checked before anything is read; a chunked body is
    buffered only up to the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self, size: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"request body is {size} bytes; the limit is {self.max_bytes:,} bytes (base64 of "
            "OMNIVEC_MAX_REQUEST_BYTES of media, plus 1 MiB); send large media as several requests "
            "or raise the limit"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                await response_for(scope, self._error(f"{int(length):,}"))(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server enforces the declared length
            return
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            more = bool(message.get("more_body"))
            if total > self.max_bytes:
                await response_for(scope, self._error(f"over {total:,}"))(scope, receive, send)
                return
        await self.app(scope, replay_body(b"".join(chunks), receive), send)


ops = APIRouter()


@ops.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    """Liveness: the process serves HTTP."""
    return JSONResponse({"status": "ok"})


@ops.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the model is loaded."""
    served: ServedModel = request.app.state.served
    if not served.ready.is_set():
        raise Unavailable(f"model {served.name} is loading; retry shortly", retry_after=2.0)
    return JSONResponse({"status": "ready", "model": served.name, "version": served.info.version})


@ops.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)


@ops.get("/v1/models")
async def list_models(request: Request) -> JSONResponse:
    """Gemini's list for Google clients (x-goog-* headers or ``key``), else OpenAI's."""
    served: ServedModel = request.app.state.served
    module = gemini if flavor_of(request.scope) == "gemini" else openai
    return JSONResponse(module.models_body(served))


@ops.get("/v1/models/{model}")
async def get_model(model: str, request: Request) -> JSONResponse:
    served: ServedModel = request.app.state.served
    module = gemini if flavor_of(request.scope) == "gemini" else openai
    return JSONResponse(module.model_body(served, model))


def create_app(settings: ServerSettings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the server.

    Args:
        settings: server settings; defaults to :func:`~omnivec.api.settings.load_settings`.
        embedder: the embedder to serve (default: a new one for ``settings.model`` with the
            server's allowed roots and byte limit); pass one to share a loaded model, whose own
            settings (allowed roots, limits) then apply.

    Raises:
        ModelNotFound: ``settings.model`` is not a registered model.
    """
    settings = settings or load_settings()
    redact_keys_in_access_log()
    registry = Metrics()
    served = ServedModel(settings, embedder or Embedder(settings.model, settings.library), registry)
    store = files.FileStore(settings.data_dir, settings.max_request_bytes)
    jobs = batches.BatchRegistry(settings.data_dir / "batches", served)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.open()
        await served.start()
        jobs.open(asyncio.get_running_loop())
        if settings.api_keys:
            logger.info("API keys required (%d configured)", len(settings.api_keys))
        else:
            logger.warning("no API keys configured: requests are not authenticated; serve loopback only")
        logger.info(
            "serving model %s (aliases: %s); files in %s",
            served.name,
            ", ".join(served.names()[1:]),
            store.root,
        )
        yield
        logger.info("shutting down: finishing queued requests")
        await jobs.close()  # first: the running batch job uses the model thread
        await served.close()

    app = FastAPI(title="omnivec", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.served = served
    app.state.files = store
    app.state.batches = jobs
    app.state.metrics = registry
    app.state.settings = settings
    install_error_handlers(app)
    # batches before files: its /files/{id}:download would otherwise reach files' /files/{name}
    for router in (gemini.router, openai.router, batches.router, files.router, ops, search.router):
        app.include_router(router)
    # add_middleware wraps: the last added runs first.
    app.add_middleware(HotRoutes)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, keys=settings.api_keys)
    app.add_middleware(MetricsMiddleware, metrics=registry)
    return app
