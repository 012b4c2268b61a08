"""API keys: accepted from ``x-goog-api-key``, the ``key`` query parameter or ``Authorization: Bearer``.

Keys are compared in constant time (``hmac.compare_digest``, against every configured key)
and never logged. The check is an ASGI middleware, so an unauthenticated request is refused
before its body is read or validated. Liveness, readiness and metrics stay open, and so does
the search page (``/`` and its static files under ``/web/``: no data, and the page itself asks
for the key it then sends with every API call). Upload chunks are authorized by the
unguessable session id the (authenticated) start of the upload returned, as Google's upload
URLs are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Sequence
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from omnivec.api.errors import response_for
from omnivec.errors import Unauthenticated

_KEY_IN_QUERY = re.compile(r"([?&]key=)[^&\s]*")
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/"})
PAGE_ASSETS = "/web/"  # the search page's static files (HTML, JS, CSS): no data behind them
UPLOAD_SESSION_PARAM = "upload_id"
OWNER_STATE = "omnivec_owner"  # scope["state"] entry: the owner id of the request's key


def owner_of_key(key: str) -> str:
    """The id that files uploaded with ``key`` are kept under: a hash, so no key is ever stored."""
    return hashlib.sha256(b"omnivec-file-owner:" + key.encode()).hexdigest()[:32]


def request_owner(scope: Scope) -> str | None:
    """The owner id of the request's API key; None when the server has no keys."""
    owner: str | None = scope.get("state", {}).get(OWNER_STATE)
    return owner


def presented_key(scope: Scope) -> str | None:
    """The key a request carries, from the first of the three places that has one."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    if key := headers.get("x-goog-api-key"):
        return key.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("key"):
        return query["key"][0].strip()
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def key_matches(presented: str, keys: Sequence[str]) -> bool:
    """Constant-time comparison against every key (no early exit reveals which one matched)."""
    given = presented.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


def _is_upload_chunk(scope: Scope) -> bool:
    return scope.get("path", "").startswith("/upload/") and f"{UPLOAD_SESSION_PARAM}=".encode() in scope.get(
        "query_string", b""
    )


def _is_open(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return path in OPEN_PATHS or path.startswith(PAGE_ASSETS) or _is_upload_chunk(scope)


class ApiKeyMiddleware:
    """Refuses requests without a valid key (401) when keys are configured."""

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        self.app = app
        self.keys = tuple(keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or _is_open(scope):
            await self.app(scope, receive, send)
            return
        presented = presented_key(scope)
        if presented is None:
            error = Unauthenticated(
                "this server requires an API key: send it in the x-goog-api-key header, "
                "the key query parameter, or Authorization: Bearer <key>"
            )
        elif not key_matches(presented, self.keys):
            error = Unauthenticated("API key not valid. Please pass a valid API key.")
        else:
            # Uploaded files belong to this key: another key can neither see nor use them.
            scope.setdefault("state", {})[OWNER_STATE] = owner_of_key(presented)
            await self.app(scope, receive, send)
            return
        await response_for(scope, error)(scope, receive, send)


class RedactKeys(logging.Filter):
    """Masks ``key=...`` query parameters in uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _KEY_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def redact_keys_in_access_log() -> None:
    """Install :class:`RedactKeys` on uvicorn's access logger (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactKeys) for f in access.filters):
        access.addFilter(RedactKeys())
