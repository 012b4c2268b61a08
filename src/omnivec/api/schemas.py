"""Request bodies of both APIs, validated by pydantic at the HTTP edge and nowhere else.

Gemini bodies accept camelCase and snake_case keys, as Google's proto3 JSON parser does (the
google-genai client itself sends ``inline_data``/``mime_type`` inside parts and camelCase
elsewhere), and refuse unknown keys with 400, as Google does. ``omnivec*`` fields are this
server's extensions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


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
