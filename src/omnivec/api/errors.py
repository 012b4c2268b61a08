"""The one table from exceptions to HTTP errors, rendered in Gemini's or OpenAI's format.

Library code raises :class:`~omnivec.errors.OmnivecError` subclasses, which carry their HTTP
code and google.rpc status; FastAPI's validation errors and Starlette's HTTP errors are mapped
here too. Routes never choose a status code: they raise, and :func:`render` answers with
``{"error": {"code", "message", "status"}}`` on Gemini routes or
``{"error": {"message", "type", "param", "code"}}`` on OpenAI routes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Scope

from omnivec.errors import ModelNotFound, OmnivecError, Overloaded, PayloadTooLarge, Unavailable

Flavor = Literal["gemini", "openai"]

# HTTP code -> google.rpc status, for errors that do not carry their own.
STATUS_BY_CODE: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "FAILED_PRECONDITION",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# google.rpc status -> OpenAI (type, code).
OPENAI_KINDS: dict[str, tuple[str, str | None]] = {
    "INVALID_ARGUMENT": ("invalid_request_error", None),
    "UNAUTHENTICATED": ("invalid_request_error", "invalid_api_key"),
    "PERMISSION_DENIED": ("permission_error", "permission_denied"),
    "NOT_FOUND": ("invalid_request_error", "not_found"),
    "FAILED_PRECONDITION": ("invalid_request_error", "failed_precondition"),
    "RESOURCE_EXHAUSTED": ("requests", "rate_limit_exceeded"),
    "UNAVAILABLE": ("server_error", "service_unavailable"),
    "DEADLINE_EXCEEDED": ("server_error", "timeout"),
    "UNIMPLEMENTED": ("invalid_request_error", "unsupported"),
    "INTERNAL": ("server_error", None),
}


@dataclass(frozen=True, slots=True)
class ApiError:
    http_status: int
    status: str  # google.rpc status name
    message: str
    param: str | None = None  # the offending field, when known (OpenAI's "param")
    retry_after: float | None = None  # seconds, sent as Retry-After
    openai_code: str | None = None


def flavor_of(scope: Scope) -> Flavor:
    """Which API a request speaks: by path, and on the shared ``/v1/models`` by Google's headers."""
    path: str = scope.get("path", "")
    if path.startswith("/v1/embeddings"):
        return "openai"
    if path == "/v1/models" or (path.startswith("/v1/models/") and ":" not in path):
        headers = {k.decode().lower() for k, _ in scope.get("headers", [])}
        google = {"x-goog-api-key", "x-goog-api-client"} & headers or b"key=" in scope.get(
            "query_string", b""
        )
        return "gemini" if google else "openai"
    return "gemini"


def to_api_error(exc: Exception, flavor: Flavor = "gemini", request_line: str = "this request") -> ApiError:
    if isinstance(exc, OmnivecError):
        retry = exc.retry_after if isinstance(exc, Overloaded | Unavailable) else None
        code = "model_not_found" if isinstance(exc, ModelNotFound) else None
        code = "payload_too_large" if isinstance(exc, PayloadTooLarge) else code
        return ApiError(exc.http_status, exc.status, exc.message, retry_after=retry, openai_code=code)
    if isinstance(exc, RequestValidationError):
        message, param = validation_message(exc.errors(), flavor)
        return ApiError(400, "INVALID_ARGUMENT", message, param=param)
    if isinstance(exc, HTTPException):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{request_line}: no such endpoint or method; the API is listed in docs/server.md and at /docs"
        return ApiError(exc.status_code, STATUS_BY_CODE.get(exc.status_code, "UNKNOWN"), message)
    return ApiError(500, "INTERNAL", "internal error; the server log has the details")


# -- validation errors in words ----------------------------------------------------------------
def _path(loc: Sequence[Any]) -> str:
    out = ""
    for item in loc:
        out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else str(item))
    return out


def _describe(error: dict[str, Any], flavor: Flavor) -> str:
    kind, loc = error.get("type", ""), [x for x in error.get("loc", ()) if x != "body"]
    path = _path(loc)
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "malformed JSON")
        return f"Invalid JSON payload received. {reason} at position {loc[0] if loc else 0}"
    if kind == "extra_forbidden":
        name, where = loc[-1] if loc else "?", _path(loc[:-1])
        if flavor == "openai":
            return f"Unrecognized request argument supplied: {name}"
        return (
            f'Invalid JSON payload received. Unknown name "{name}"'
            + (f" at '{where}'" if where else "")
            + (": Cannot find field.")
        )
    if not loc and isinstance(error.get("input"), bytes | str):
        return "Invalid JSON payload received. The request body must be a JSON object (Content-Type: application/json)"
    if kind == "missing":
        return (
            f"Invalid request: '{path}' is required"
            if path
            else "Invalid request: the body is empty; send a JSON object"
        )
    shown = repr(error.get("input"))
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"Invalid value at '{path}' ({shown}): {error.get('msg', 'invalid')}"


def validation_message(errors: Sequence[dict[str, Any]], flavor: Flavor) -> tuple[str, str | None]:
    """A message naming the first few problems, and the first offending field."""
    if not errors:
        return "Invalid request", None
    messages = [_describe(e, flavor) for e in errors[:3]]
    more = f" (and {len(errors) - 3} more problems)" if len(errors) > 3 else ""
    loc = [x for x in errors[0].get("loc", ()) if x != "body"]
    param = _path(loc) if loc and not isinstance(loc[0], int) else None
    return "; ".join(messages) + more, param


# -- rendering ---------------------------------------------------------------------------------
def body_for(error: ApiError, flavor: Flavor) -> dict[str, Any]:
    if flavor == "openai":
        kind, code = OPENAI_KINDS.get(error.status, ("server_error", None))
        return {
            "error": {
                "message": error.message,
                "type": kind,
                "param": error.param,
                "code": error.openai_code or code,
            }
        }
    return {"error": {"code": error.http_status, "message": error.message, "status": error.status}}


def response_for(scope: Scope, exc: Exception) -> JSONResponse:
    """The HTTP response for ``exc`` on the request described by ``scope``."""
    flavor = flavor_of(scope)
    error = to_api_error(exc, flavor, f"{scope.get('method', '')} {scope.get('path', '')}")
    headers = {"Retry-After": str(math.ceil(error.retry_after))} if error.retry_after else None
    return JSONResponse(body_for(error, flavor), status_code=error.http_status, headers=headers)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    return response_for(request.scope, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through :func:`response_for` (Starlette logs unexpected ones)."""
    for kind in (OmnivecError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, _handle)
