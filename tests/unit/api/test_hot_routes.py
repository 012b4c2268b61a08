"""The embedding routes answer the same with and without FastAPI's dispatch.

:class:`~omnivec.api.hot_routes.HotRoutes` takes ``application/json`` requests; FastAPI also
reads ``application/<anything>+json`` bodies as JSON, which the hot path leaves to it. So the
same body sent with both content types goes once through each path, on one real server, and
must get the same status, headers that matter and body (vectors equal to float32 precision).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings

HOT = {"content-type": "application/json"}
FASTAPI = {"content-type": "application/vnd.omnivec+json"}  # JSON to FastAPI, not taken by the hot path

GEMINI = "/v1beta/models/lite:embedContent"
GEMINI_V1 = "/v1/models/gemini-embedding-001:embedContent"
BATCH = "/v1beta/models/lite:batchEmbedContents"
OPENAI = "/v1/embeddings"


def _text(value: str, **extra: Any) -> dict[str, Any]:
    return {"content": {"parts": [{"text": value}]}, **extra}


CASES: list[tuple[str, Any]] = [
    (GEMINI, _text("a cat asleep on a sofa")),
    (GEMINI_V1, _text("a cat asleep on a sofa", taskType="RETRIEVAL_QUERY", outputDimensionality=64)),
    (GEMINI, _text("doc", taskType="RETRIEVAL_DOCUMENT", title="A title", omnivecQuantization="int8")),
    (
        BATCH,
        {"requests": [{"model": "models/lite", **_text("one")}, {"model": "models/lite", **_text("two")}]},
    ),
    (OPENAI, {"model": "lite", "input": "jazz in New Orleans"}),
    (OPENAI, {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64"}),
    (OPENAI, {"model": "lite", "input": ["a"], "dimensions": 8, "encoding_format": "binary"}),
    # errors raised by the endpoint (the hot path renders them)
    ("/v1beta/models/nosuchmodel:embedContent", _text("x")),
    (GEMINI, _text("x", taskType="NOT_A_TASK")),
    (GEMINI, _text("x", outputDimensionality=4096)),
    (GEMINI, {"content": {"parts": []}}),
    (BATCH, {"requests": []}),
    (BATCH, {"requests": [_text("x", model="models/other")]}),
    (OPENAI, {"model": "nosuchmodel", "input": "x"}),
    (OPENAI, {"model": "lite", "input": [[1, 2, 3]]}),
    (OPENAI, {"model": "lite", "input": "x", "encoding_format": "float16"}),
    # errors of validation (the hot path hands these to FastAPI)
    (GEMINI, _text("x", unknownField=1)),
    (GEMINI, {"content": {"parts": [{"text": 5}]}}),
    (GEMINI, [1, 2]),
    (OPENAI, {"input": "no model"}),
    (GEMINI, {"content": {"parts": [{"text": "x"}] * 1025}}),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_in_thread(create_app(ServerSettings(data_dir=tmp_path_factory.mktemp("data")))) as running:
        yield running


def assert_same(hot: Any, slow: Any, where: str = "body") -> None:
    """Equal JSON, except that lists of floats (vectors) may differ by float32 rounding."""
    if isinstance(hot, dict) and isinstance(slow, dict):
        assert hot.keys() == slow.keys(), where
        for key in hot:
            assert_same(hot[key], slow[key], f"{where}.{key}")
    elif isinstance(hot, list) and isinstance(slow, list) and hot and all(isinstance(x, float) for x in hot):
        np.testing.assert_allclose(hot, slow, atol=1e-6, err_msg=where)
    elif isinstance(hot, list) and isinstance(slow, list):
        assert len(hot) == len(slow), where
        for i, (a, b) in enumerate(zip(hot, slow, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert hot == slow, where


@pytest.mark.parametrize(("route", "body"), CASES, ids=[f"{i}-{r}" for i, (r, _) in enumerate(CASES)])
def test_same_answer_through_both_paths(url: str, route: str, body: Any) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        hot = http.post(route, json=body, headers=HOT)
        slow = http.post(route, json=body, headers=FASTAPI)
    assert hot.status_code == slow.status_code
    assert hot.headers.get("retry-after") == slow.headers.get("retry-after")
    assert hot.headers["content-type"] == slow.headers["content-type"]
    assert_same(hot.json(), slow.json())


def test_unmatched_requests_reach_fastapi(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.put(GEMINI, json=_text("x")).status_code == 405  # another method
        assert http.post(GEMINI, content=b"{}", headers={"content-type": "text/plain"}).status_code == 400
        assert http.post("/v1beta/nosuch:embedContent", json=_text("x")).status_code == 404
        assert http.get("/v1/models").status_code == 200
