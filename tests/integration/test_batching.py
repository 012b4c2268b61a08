"""Concurrent requests are batched together, give the unbatched vectors, and fail alone."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings
from omnivec.content import Content, Part
from omnivec.models.base import EmbedOptions

EMBED = "/v1beta/models/lite:embedContent"


@pytest.fixture(scope="module")
def url(server_settings: ServerSettings) -> Iterator[str]:
    # A long wait makes every burst one batch, so the assertions do not depend on timing.
    with serve_in_thread(create_app(replace(server_settings, max_wait_ms=1000))) as running:
        yield running


async def _burst(url: str, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        return await asyncio.gather(*(http.post(EMBED, json=b) for b in bodies))


def _text(value: str, **extra: object) -> dict[str, object]:
    return {"content": {"parts": [{"text": value}]}, **extra}


def _batch_requests(url: str) -> tuple[float, float]:
    """(model calls, requests in them) from /metrics."""
    text = httpx.get(url + "/metrics").text
    count = float(re.search(r"^omnivec_batch_requests_count (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    total = float(re.search(r"^omnivec_batch_requests_sum (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    return count, total


def test_concurrent_requests_share_batches_and_equal_unbatched(url: str, library: Embedder) -> None:
    texts = [
        f"request number {i} is about {topic}"
        for i, topic in enumerate(["cats", "tax law", "jazz", "rain"] * 6)
    ]
    calls_before, requests_before = _batch_requests(url)
    responses = asyncio.run(_burst(url, [_text(t) for t in texts]))
    calls, requests = (
        a - b for a, b in zip(_batch_requests(url), (calls_before, requests_before), strict=True)
    )
    assert requests == len(texts) and calls < len(texts) / 2  # coalesced
    for text, response in zip(texts, responses, strict=True):
        unbatched = library.embed_contents([Content((Part(text=text),))], EmbedOptions()).vectors[0]
        np.testing.assert_allclose(response.json()["embedding"]["values"], unbatched, atol=1e-5)


def test_different_options_in_one_burst(url: str, library: Embedder) -> None:
    bodies = [_text("same text", outputDimensionality=dim) for dim in (8, 384, 64)]
    bodies.append(_text("same text", taskType="RETRIEVAL_DOCUMENT", title="A title"))
    responses = asyncio.run(_burst(url, bodies))
    options = [
        EmbedOptions(dim=8),
        EmbedOptions(dim=384),
        EmbedOptions(dim=64),
        EmbedOptions(task="RETRIEVAL_DOCUMENT", title="A title"),
    ]
    for response, option in zip(responses, options, strict=True):
        expected = library.embed_contents([Content((Part(text="same text"),))], option).vectors[0]
        np.testing.assert_allclose(response.json()["embedding"]["values"], expected, atol=1e-5)


def test_a_bad_request_does_not_fail_its_batch(url: str, photo_png: Path) -> None:
    # Passes the edge checks (a PNG signature), fails in the model: it fails inside the batch.
    broken = photo_png.read_bytes()[:300]
    bad = {
        "content": {
            "parts": [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(broken).decode()}}]
        }
    }
    bodies = [_text(f"good {i}") for i in range(5)] + [bad] + [_text(f"good {i}") for i in range(5, 8)]
    calls_before, _ = _batch_requests(url)
    codes = [r.status_code for r in asyncio.run(_burst(url, bodies))]
    assert codes == [200] * 5 + [400] + [200] * 3
    calls, _ = _batch_requests(url)
    assert calls - calls_before == 1  # one batch held all nine: the bad one failed alone inside it
