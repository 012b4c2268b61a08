"""Vector responses: numpy rows written as JSON that parses back to the same float32 values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from omnivec.api import responses


def test_float32_rows_round_trip_exactly() -> None:
    rows = np.random.default_rng(0).normal(size=(3, 384)).astype(np.float32)
    body = {"embeddings": [{"values": row} for row in rows], "usage": {"tokens": 3}}
    parsed = json.loads(responses.render(body))
    np.testing.assert_array_equal(
        np.array([e["values"] for e in parsed["embeddings"]], dtype=np.float32), rows
    )
    assert parsed["usage"] == {"tokens": 3}


def test_integer_rows_are_integers() -> None:
    parsed = json.loads(responses.render({"values": np.array([-127, 0, 127], dtype=np.int8)}))
    assert parsed == {"values": [-127, 0, 127]}


def test_standard_library_fallback_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = np.random.default_rng(1).normal(size=(2, 8)).astype(np.float32)
    fast = json.loads(responses.render({"v": rows[0], "q": rows[1].astype(np.uint8)}))
    monkeypatch.setattr(responses, "orjson", None)  # the module works without the optional package
    slow = json.loads(responses.render({"v": rows[0], "q": rows[1].astype(np.uint8)}))
    np.testing.assert_array_equal(np.float32(fast["v"]), np.float32(slow["v"]))
    assert fast["q"] == slow["q"]
