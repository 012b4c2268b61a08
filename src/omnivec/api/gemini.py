"""The Gemini embedding API under ``/v1beta`` and ``/v1``: embedContent, batchEmbedContents, models.

What google-genai 3.x sends (``client.models.embed_content`` on the Developer API): always
``POST /{version}/models/{model}:batchEmbedContents`` (``/v1`` unless told otherwise), one
``requests[]`` entry per content with ``model``, ``content`` (``role: "user"``),
``taskType``, ``title`` and ``outputDimensionality`` at the top of each entry, and inline
media as ``inline_data: {data, mime_type}`` (snake_case). For models named ``gemini*``
other than ``gemini-embedding-001``/``-exp`` it first groups consecutive parts (and strings)
into ONE content, so ``contents=[text, image]`` gives one fused vector; for the others every
part is its own content. Both arrive here as plain requests; the grouping is the client's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
from fastapi import APIRouter, Request

from omnivec.api.auth import request_owner
from omnivec.api.files import FileStore
from omnivec.api.quantize import Quantization, parse_quantization, quantize
from omnivec.api.responses import VectorResponse
from omnivec.api.schemas import BatchEmbedContentsRequest, ContentIn, EmbedContentRequest, FileData, PartIn
from omnivec.api.segments import segment_content
from omnivec.api.served import Embedded, Item, ServedModel
from omnivec.content import Content, Part, canonical_mime
from omnivec.errors import InvalidInput, OmnivecError
from omnivec.media.files import resolve_allowed
from omnivec.media.sniff import verify_mime
from omnivec.payload import inline_part

GENERATION_METHODS = ["embedContent", "batchEmbedContents", "asyncBatchEmbedContent"]
MAX_BATCH_REQUESTS = (
    2048  # contents per batchEmbedContents call (Google allows 100; omnivec, as OpenAI, more)
)

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Sources:
    """Where file references are looked up for one request."""

    store: FileStore
    roots: tuple[Path, ...]
    host: str  # this server as the client addressed it; own file URIs carry it
    owner: str | None = None  # owner id of the request's API key: only its uploads are readable


@dataclass(frozen=True, slots=True)
class Parsed:
    item: Item
    quantization: Quantization
    segments: bool


def served_of(request: Request) -> ServedModel:
    served: ServedModel = request.app.state.served
    return served


def sources_of(request: Request) -> Sources:
    served = served_of(request)
    return Sources(
        request.app.state.files, served.embedder.settings.allowed_roots, request.headers.get("host", ""),
        request_owner(request.scope),
    )


@contextmanager
def located(where: str) -> Iterator[None]:
    """Prefix the message of an error raised inside with where in the request it happened."""
    if not where:
        yield
        return
    try:
        yield
    except OmnivecError as exc:
        if exc.message.startswith(where):
            raise
        located_exc = type(exc)(f"{where}: {exc.message}")
        raise located_exc from exc


# -- parts ----------------------------------------------------------------------------------------
def _file_part(data: FileData, sources: Sources) -> Part:
    uri = data.file_uri.strip()
    if name := sources.store.name_of_uri(uri, sources.host):
        record, payload = sources.store.read(name, sources.owner)
        declared = data.mime_type or record.mime_type
        verify_mime(payload, canonical_mime(declared))
        return Part.from_bytes(payload, declared)
    parts = urlsplit(uri)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(unquote(parts.path))
    elif not parts.scheme and uri.startswith("/"):
        path = Path(uri)
    else:
        raise InvalidInput(
            f"fileData.fileUri {uri!r} cannot be read: omnivec never fetches from the network; upload the "
            "file with the Files API (POST /upload/v1beta/files) and pass its uri, or name a local file "
            "under the allowed roots (file:///path or an absolute path)"
        )
    if data.mime_type:
        canonical_mime(data.mime_type)
    return Part.from_path(resolve_allowed(path, sources.roots), data.mime_type)


def to_part(part: PartIn, sources: Sources) -> Part:
    """One Gemini part -> a Part, its bytes decoded and their real type checked against the label."""
    given = [part.text is not None, part.inline_data is not None, part.file_data is not None]
    if sum(given) != 1:
        raise InvalidInput("a part must hold exactly one of text, inlineData or fileData")
    if part.text is not None:
        return Part(text=part.text)
    if part.inline_data is not None:
        return inline_part(part.inline_data.data, part.inline_data.mime_type, "inlineData.data")
    assert part.file_data is not None
    return _file_part(part.file_data, sources)


def to_content(content: ContentIn, where: str, sources: Sources) -> Content:
    if not content.parts:
        raise InvalidInput(f"{where}.parts is empty; a content needs at least one part")
    parts = []
    for i, part in enumerate(content.parts):
        with located(f"{where}.parts[{i}]"):
            parts.append(to_part(part, sources))
    return Content(tuple(parts))


def _has_media(requests: Sequence[EmbedContentRequest]) -> bool:
    return any(p.text is None for r in requests for p in r.content.parts)


def parse_requests(
    requests: Sequence[EmbedContentRequest],
    prefix: str,
    url_model: str,
    served: ServedModel,
    sources: Sources,
) -> list[Parsed]:
    """Validate and convert requests (blocking when they carry media: base64, sniffing, stat)."""
    parsed = []
    for i, body in enumerate(requests):
        where = f"{prefix}[{i}]" if prefix else ""
        dot = f"{where}." if where else ""
        with located(where):
            if body.model is not None and served.resolve(body.model) != url_model:
                raise InvalidInput(f"model {body.model!r} differs from the model in the URL")
            options = served.options(
                body.task_type, body.title, body.output_dimensionality, body.auto_truncate
            )
            quantization = parse_quantization(body.omnivec_quantization)
        content = to_content(body.content, f"{dot}content", sources)
        parsed.append(Parsed(Item(content, options), quantization, body.omnivec_segments))
    return parsed


async def _parse(
    requests: Sequence[EmbedContentRequest], prefix: str, model: str, request: Request
) -> list[Parsed]:
    served = served_of(request)
    url_model = served.resolve(model)
    args = (requests, prefix, url_model, served, sources_of(request))
    if _has_media(requests):
        return await asyncio.to_thread(parse_requests, *args)  # base64 and sniffing off the event loop
    return parse_requests(*args)


# -- responses ------------------------------------------------------------------------------------
def values(vector: np.ndarray, quantization: Quantization) -> np.ndarray:
    return np.ascontiguousarray(quantize(vector[None, :], quantization)[0])  # (D,) -> (1, D) -> (D',)


def usage(embedded: Sequence[Embedded]) -> dict[str, Any]:
    tokens = sum(int(e.metadata.get("text_tokens", 0)) for e in embedded)
    return {
        "promptTokenCount": tokens,
        "totalTokenCount": tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
    }


async def _segments(parsed: Parsed, served: ServedModel) -> VectorResponse:
    settings = served.embedder.settings
    pieces = await asyncio.to_thread(
        segment_content,
        parsed.item.content,
        settings,
        served.max_segmented_seconds,
        parsed.item.options.video_audio,
    )
    embedded = await served.embed([Item(p.content, parsed.item.options) for p in pieces])
    rows = [
        {
            "startSeconds": round(p.start, 3),
            "endSeconds": round(p.end, 3),
            "embedding": {"values": values(e.vector, parsed.quantization)},
        }
        for p, e in zip(pieces, embedded, strict=True)
    ]
    return VectorResponse({"omnivecSegments": rows, "usageMetadata": usage(embedded)})


# -- routes ---------------------------------------------------------------------------------------
@router.post("/v1beta/models/{model}:embedContent")
@router.post("/v1/models/{model}:embedContent", include_in_schema=False)
async def embed_content(model: str, body: EmbedContentRequest, request: Request) -> VectorResponse:
    """One content -> one embedding (or, with ``omnivecSegments``, one per segment)."""
    [parsed] = await _parse([body], "", model, request)
    served = served_of(request)
    if parsed.segments:
        with located("content"):
            return await _segments(parsed, served)
    [embedded] = await served.embed([parsed.item])
    return VectorResponse(
        {
            "embedding": {"values": values(embedded.vector, parsed.quantization)},
            "usageMetadata": usage([embedded]),
        }
    )


@router.post("/v1beta/models/{model}:batchEmbedContents")
@router.post("/v1/models/{model}:batchEmbedContents", include_in_schema=False)
async def batch_embed_contents(
    model: str, body: BatchEmbedContentsRequest, request: Request
) -> VectorResponse:
    """Several contents -> one embedding each, in order (what google-genai always calls)."""
    if not body.requests:
        raise InvalidInput("requests is empty; send at least one request")
    if len(body.requests) > MAX_BATCH_REQUESTS:
        raise InvalidInput(
            f"requests has {len(body.requests)} entries; the limit is {MAX_BATCH_REQUESTS} per call"
        )
    parsed = await _parse(body.requests, "requests", model, request)
    if any(p.segments for p in parsed):
        raise InvalidInput("omnivecSegments is only accepted by :embedContent (one content per call)")
    embedded = await served_of(request).embed([p.item for p in parsed])
    rows = [{"values": values(e.vector, p.quantization)} for p, e in zip(parsed, embedded, strict=True)]
    return VectorResponse({"embeddings": rows, "usageMetadata": usage(embedded)})


def model_resource(served: ServedModel, name: str) -> dict[str, Any]:
    """A Gemini ``Model`` resource; ``omnivec*`` fields add what Google's lacks."""
    info, limits = served.info, served.limits
    alias = name != served.name
    return {
        "name": f"models/{name}",
        "baseModelId": served.name,
        "version": info.version,
        "displayName": f"{name} (omnivec {served.name})" if alias else f"omnivec {name}",
        "description": (f"alias of models/{served.name}: " if alias else "") + info.description,
        "inputTokenLimit": limits.max_text_tokens,
        "outputTokenLimit": 1,
        "supportedGenerationMethods": GENERATION_METHODS,
        "omnivecDimensions": info.dim,
        "omnivecMatryoshka": info.matryoshka,
        "omnivecModalities": list(info.modalities),
        "omnivecLimits": {
            "maxTextTokens": limits.max_text_tokens,
            "maxImages": limits.max_images,
            "maxAudioSeconds": limits.max_audio_seconds,
            "maxVideoSeconds": limits.max_video_seconds,
            "maxVideoWithAudioSeconds": limits.max_video_with_audio_seconds,
            "maxPdfPages": limits.max_pdf_pages,
            "maxRequestBytes": limits.max_request_bytes,
        },
    }


def models_body(served: ServedModel) -> dict[str, Any]:
    return {"models": [model_resource(served, name) for name in served.names()]}


def model_body(served: ServedModel, model: str) -> dict[str, Any]:
    served.resolve(model)
    return model_resource(served, model.removeprefix("models/"))


@router.get("/v1beta/models")
async def list_models(request: Request) -> VectorResponse:
    return VectorResponse(models_body(served_of(request)))


@router.get("/v1beta/models/{model}")
async def get_model(model: str, request: Request) -> VectorResponse:
    return VectorResponse(model_body(served_of(request), model))
