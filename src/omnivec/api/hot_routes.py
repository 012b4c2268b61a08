"""The embedding routes without FastAPI's dispatch: the routes' own regexes, orjson, the same endpoints.

``:embedContent``, ``:batchEmbedContents`` and ``/v1/embeddings`` carry nearly all of a
server's traffic, most often one short text per request. FastAPI's way to them (trying every
route in turn, solving dependencies, ``json.loads`` and validation through its adapters, four
wrapper layers) cost 80 µs of the 190 µs that the app spent on a one-text ``embedContent``
(model excluded), and 77 of 122 µs on ``/v1/embeddings``. :class:`HotRoutes` sits inside the
other middlewares (metrics, keys, body limit) and answers these routes itself: the path is
matched by FastAPI's own route regexes, the body parsed by ``orjson`` and validated by the same
pydantic model, and the same endpoint function answers, its errors rendered by the same table.
A request it does not take on goes on to FastAPI unchanged: another method, a content type
other than ``application/json``, a body that does not parse or validate (so every validation
message is FastAPI's, word for word), with the body it read replayed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnivec.api import gemini, openai
from omnivec.api.errors import response_for
from omnivec.api.schemas import BatchEmbedContentsRequest, EmbedContentRequest, OpenAIEmbeddingRequest
from omnivec.errors import OmnivecError

Endpoint = Callable[[dict[str, str], Any, Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Route:
    route: APIRoute  # FastAPI's route: its path regex matches, metrics label requests by its path
    model: type[BaseModel]  # the request body
    endpoint: Endpoint  # (path parameters, body, request) -> response


def _gemini(call: Callable[[str, Any, Request], Awaitable[Response]]) -> Endpoint:
    return lambda params, body, request: call(params["model"], body, request)


def _openai(call: Callable[[Any, Request], Awaitable[Response]]) -> Endpoint:
    return lambda _, body, request: call(body, request)


HOT: tuple[tuple[str, type[BaseModel], Endpoint], ...] = (
    ("/v1beta/models/{model}:embedContent", EmbedContentRequest, _gemini(gemini.embed_content)),
    ("/v1/models/{model}:embedContent", EmbedContentRequest, _gemini(gemini.embed_content)),
    (
        "/v1beta/models/{model}:batchEmbedContents",
        BatchEmbedContentsRequest,
        _gemini(gemini.batch_embed_contents),
    ),
    (
        "/v1/models/{model}:batchEmbedContents",
        BatchEmbedContentsRequest,
        _gemini(gemini.batch_embed_contents),
    ),
    ("/v1/embeddings", OpenAIEmbeddingRequest, _openai(openai.create_embeddings)),
)


def _routes() -> list[_Route]:
    declared = {
        r.path: r
        for r in (*gemini.router.routes, *openai.router.routes)
        if isinstance(r, APIRoute) and "POST" in (r.methods or ())
    }
    return [_Route(declared[template], model, endpoint) for template, model, endpoint in HOT]


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


class HotRoutes:
    """Answers the embedding routes directly; passes every other request to ``app``.

    Args:
        app: the FastAPI app's inner stack (its routes answer what this one passes on).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = _routes()

    def _match(self, scope: Scope) -> tuple[_Route, dict[str, str]] | None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_json(scope):
            return None
        path: str = scope["path"]
        for route in self.routes:
            if match := route.route.path_regex.match(path):
                return route, match.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._match(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        route, params = matched
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        try:
            parsed = route.model.model_validate(orjson.loads(body)) if body else None
        except ValueError:  # orjson.JSONDecodeError and pydantic's ValidationError are ValueErrors
            parsed = None
        if parsed is None:  # FastAPI gives the error, in its words
            await self.app(scope, replay_body(body, receive), send)
            return
        scope["route"] = route.route
        request = Request(scope, replay_body(body, receive), send)
        try:
            response = await route.endpoint(params, parsed, request)
        except OmnivecError as exc:
            response = response_for(scope, exc)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` first, then whatever the connection says next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
