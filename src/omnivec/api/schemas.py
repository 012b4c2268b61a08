"""Request bodies of both APIs, validated by pydantic at the HTTP edge and nowhere else.

Gemini bodies accept camelCase and snake_case keys, as Google's proto3 JSON parser does (the
google-genai client itself sends ``inline_data``/``mime_type`` inside parts and camelCase
elsewhere), and refuse unknown keys with 400, as Google does. ``omnivec*`` fields are this
server's extensions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

MAX_PARTS = 1024  # parts per content; more are refused before validation (~500 bytes each)
MAX_REQUESTS = 2048  # requests per batchEmbedContents, as OpenAI's inputs per request


def _at_most(data: Any, field: str, limit: int, what: str) -> Any:
    """Refuse a list over ``limit`` items before pydantic builds a model for each (GBs for millions)."""
    items = data.get(field) if isinstance(data, dict) else None
    if isinstance(items, list) and len(items) > limit:
        raise ValueError(f"{len(items):,} {what}; the limit is {limit:,}")
    return data


class GeminiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid", frozen=True
    )


class Blob(GeminiModel):
    mime_type: str
    data: str  # base64, standard or URL-safe alphabet


class FileData(GeminiModel):
    file_uri: str
    mime_type: str | None = None


class PartIn(GeminiModel):
    text: str | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None


class ContentIn(GeminiModel):
    parts: list[PartIn]
    role: str | None = None  # sent by google-genai ("user"); ignored

    @model_validator(mode="before")
    @classmethod
    def _few_enough_parts(cls, data: Any) -> Any:
        return _at_most(data, "parts", MAX_PARTS, "parts in one content")


class EmbedContentRequest(GeminiModel):
    model: str | None = None
    content: ContentIn
    task_type: str | None = None
    title: str | None = None
    output_dimensionality: int | None = None
    auto_truncate: bool = False  # Vertex AI's name: cut text over the token limit instead of refusing it
    omnivec_quantization: str | None = None  # extension: "int8", "uint8" or "binary" values
    omnivec_segments: bool = False  # extension: one vector per <=30 s segment of long audio/video


class BatchEmbedContentsRequest(GeminiModel):
    requests: list[EmbedContentRequest]

    @model_validator(mode="before")
    @classmethod
    def _few_enough_requests(cls, data: Any) -> Any:
        return _at_most(data, "requests", MAX_REQUESTS, "requests in one batch")


class FileIn(GeminiModel):
    """The ``file`` object that starts an upload (google-genai sends snake_case keys)."""

    name: str | None = None
    display_name: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None


class CreateFileRequest(GeminiModel):
    file: FileIn = Field(default_factory=FileIn)


class OpenAIEmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Any  # str, list of str, or (refused with a clear message) token ids; checked in openai.py
    model: str
    dimensions: int | None = None
    encoding_format: str = "float"  # float | base64 | int8 | uint8 | binary (the last three: extension)
    user: str | None = None
