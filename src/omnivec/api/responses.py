"""JSON responses that carry vectors: numpy arrays written as the shortest text that round-trips.

With ``orjson`` installed, float32 arrays are written by it directly: each value as the
shortest decimal that parses back to the same float32 (about half the bytes of a float64
repr), some 20 times faster than the standard library. Without it, arrays become lists and
the standard ``json`` module writes them (exact too, only longer and slower).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from fastapi.responses import JSONResponse

try:
    import orjson
except ImportError:  # optional: only speed depends on it
    orjson = None  # type: ignore[assignment]


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def render(content: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(content, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(
        content, default=_plain, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()


class VectorResponse(JSONResponse):
    """A JSONResponse whose content may hold numpy arrays (vectors, quantized rows)."""

    def render(self, content: Any) -> bytes:
        return render(content)
