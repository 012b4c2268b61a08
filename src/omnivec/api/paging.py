"""Google-style list paging shared by the Files and Batches routes: ``pageSize`` and an opaque ``pageToken``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from omnivec.errors import InvalidInput

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
T = TypeVar("T")


def page_of(
    items: Sequence[T], page_size: int, page_token: str | None, key: str, render: Callable[[T], Any]
) -> dict[str, Any]:
    """The list body ``{key: [render(item)...], "nextPageToken"?}`` for the page ``page_token`` names."""
    start = _page_start(page_token)
    body: dict[str, Any] = {key: [render(item) for item in items[start : start + page_size]]}
    if start + page_size < len(items):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(start + page_size).encode()).decode()
    return body


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            f"invalid pageToken {token!r}; pass the nextPageToken of the previous page"
        ) from None
