"""The OpenAI embedding API: ``POST /v1/embeddings`` and the OpenAI view of ``GET /v1/models``.

``input`` is a string or a list of strings; each gives one embedding. Extensions: an item
``data:<mime>;base64,<data>`` is media (image, audio, video, PDF), and an item that is itself
a list of strings is one multi-part content (one fused vector). Token-id arrays are refused
with a clear message: omnivec tokenizes text itself. ``encoding_format`` is ``float``,
``base64`` (little-endian float32, the official client's default) or, as an extension,
``int8``, ``uint8`` or ``binary`` (see :mod:`omnivec.api.quantize`).
"""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from omnivec.api.quantize import parse_quantization, quantize
from omnivec.api.responses import VectorResponse
from omnivec.api.schemas import OpenAIEmbeddingRequest
from omnivec.api.served import Item, ServedModel
from omnivec.content import Content, Part
from omnivec.errors import InvalidInput
from omnivec.payload import inline_part

MAX_INPUTS = 2048  # items per request, as OpenAI's API
DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[\w.+-]+=[^;,]*)*;base64,(?P<data>.*)", re.DOTALL)
ENCODINGS = ("float", "base64", "int8", "uint8", "binary")

router = APIRouter()


def _is_tokens(item: Any) -> bool:
    return isinstance(item, int) or (
        isinstance(item, list) and bool(item) and all(isinstance(x, int) for x in item)
    )


def to_part(text: str, where: str) -> Part:
    if not text:
        raise InvalidInput(f"{where} is an empty string; send text, or a data URL for media")
    if match := DATA_URL.fullmatch(text):
        return inline_part(match["data"], match["mime"], f"{where} (data URL)")
    return Part(text=text)


def to_contents(value: Any) -> list[Content]:
    """``input`` -> one Content per item (a nested list of strings is one multi-part Content)."""
    if _is_tokens(value) or (isinstance(value, list) and value and all(_is_tokens(x) for x in value)):
        raise InvalidInput(
            "token-id arrays are not supported: omnivec tokenizes text itself; send the text as strings"
        )
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise InvalidInput("'input' must be a string or a non-empty list of strings")
    if len(items) > MAX_INPUTS:
        raise InvalidInput(f"'input' has {len(items)} items; the limit is {MAX_INPUTS} per request")
    contents = []
    for i, item in enumerate(items):
        parts = item if isinstance(item, list) and item and all(isinstance(x, str) for x in item) else [item]
        if not all(isinstance(p, str) for p in parts):
            raise InvalidInput(f"input[{i}] must be a string (or a list of strings: one multi-part input)")
        contents.append(Content(tuple(to_part(p, f"input[{i}]") for p in parts)))
    return contents


def encode(vector: np.ndarray, encoding: str) -> np.ndarray | str:
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return np.ascontiguousarray(
        quantize(vector[None, :], parse_quantization(encoding))[0]
    )  # (D,) -> (1, D) -> (D',)


def _has_media(value: Any) -> bool:
    """Whether any item is a data URL (then decoding runs off the event loop)."""
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    flat = [y for x in items for y in (x if isinstance(x, list) else [x])]
    return any(isinstance(x, str) and x.startswith("data:") for x in flat)


@router.post("/v1/embeddings")
async def create_embeddings(body: OpenAIEmbeddingRequest, request: Request) -> VectorResponse:
    served: ServedModel = request.app.state.served
    served.resolve(body.model)
    if body.encoding_format not in ENCODINGS:
        raise InvalidInput(f"encoding_format {body.encoding_format!r} is not one of: {', '.join(ENCODINGS)}")
    options = served.options(dim=body.dimensions)
    contents = (
        await asyncio.to_thread(to_contents, body.input)
        if _has_media(body.input)
        else to_contents(body.input)
    )
    embedded = await served.embed([Item(c, options) for c in contents])
    tokens = sum(int(e.metadata.get("text_tokens", 0)) for e in embedded)
    data = [
        {"object": "embedding", "index": i, "embedding": encode(e.vector, body.encoding_format)}
        for i, e in enumerate(embedded)
    ]
    return VectorResponse(
        {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "omnivec"}


def models_body(served: ServedModel) -> dict[str, Any]:
    return {"object": "list", "data": [model_card(n) for n in served.names()]}


def model_body(served: ServedModel, model: str) -> dict[str, Any]:
    served.resolve(model)
    return model_card(model)
