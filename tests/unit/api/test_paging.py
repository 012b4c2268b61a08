from __future__ import annotations

import pytest

from omnivec.api.paging import page_of
from omnivec.errors import InvalidInput


def test_pages_walk_every_item_once_in_order() -> None:
    items, seen, token = list(range(23)), [], None
    while True:
        body = page_of(items, 10, token, "things", lambda i: {"n": i})
        seen += [t["n"] for t in body["things"]]
        token = body.get("nextPageToken")
        if token is None:
            break
    assert seen == items


def test_last_full_page_has_no_next_token() -> None:
    assert "nextPageToken" not in page_of(list(range(10)), 10, None, "things", str)


@pytest.mark.parametrize("token", ["not base64 !", "YWJj"])  # the second decodes to "abc"
def test_bad_page_token_is_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput, match="pageToken"):
        page_of([1, 2], 1, token, "things", str)
