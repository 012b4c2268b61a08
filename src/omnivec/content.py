"""Part and Content: the one input type everything accepts (mirrors Gemini's Content).

A :class:`Content` is a tuple of :class:`Part` objects and yields exactly one embedding.
A Part is text, inline bytes with a MIME type, or a reference to a local file (read only
inside the configured allowed roots, see :mod:`omnivec.media.files`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omnivec.errors import InvalidInput, UnsupportedMedia

Modality = Literal["text", "image", "audio", "video", "pdf"]

# Canonical MIME type -> modality. Everything we embed is listed here.
MIME_MODALITY: dict[str, Modality] = {
    "text/plain": "text",
    "text/markdown": "text",
    "image/png": "image",
    "image/jpeg": "image",
    "image/webp": "image",
    "audio/wav": "audio",
    "audio/mpeg": "audio",
    "audio/flac": "audio",
    "audio/ogg": "audio",
    "video/mp4": "video",
    "video/quicktime": "video",
    "video/webm": "video",
    "application/pdf": "pdf",
}

# Spellings clients send for the same types.
MIME_ALIASES: dict[str, str] = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-flac": "audio/flac",
    "audio/opus": "audio/ogg",
    "application/ogg": "audio/ogg",
    "video/mov": "video/quicktime",
    "application/x-pdf": "application/pdf",
    "text/x-markdown": "text/markdown",
}


def canonical_mime(mime_type: str) -> str:
    """Lower-case, drop parameters (``; charset=...``) and map aliases to the canonical name.

    Raises:
        UnsupportedMedia: the type is not one omnivec embeds.
    """
    mime = mime_type.split(";", 1)[0].strip().lower()
    mime = MIME_ALIASES.get(mime, mime)
    if mime not in MIME_MODALITY:
        supported = ", ".join(sorted(MIME_MODALITY))
        raise UnsupportedMedia(f"MIME type {mime_type!r} is not supported; supported: {supported}")
    return mime


def modality_of(mime_type: str) -> Modality:
    return MIME_MODALITY[canonical_mime(mime_type)]


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a Content: exactly one of ``text``, ``data`` (with ``mime_type``) or ``path``."""

    text: str | None = None
    data: bytes | None = None
    mime_type: str | None = None  # declared type; verified against the bytes when loaded
    path: Path | None = None

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.text, self.data, self.path))
        if given != 1:
            raise InvalidInput("a Part holds exactly one of text, data (with mime_type) or path")
        if self.data is not None and not self.mime_type:
            raise InvalidInput("inline bytes need a mime_type, e.g. Part.from_bytes(b, 'image/png')")

    @classmethod
    def from_text(cls, text: str) -> Part:
        return cls(text=text)

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str) -> Part:
        return cls(data=data, mime_type=mime_type)

    @classmethod
    def from_path(cls, path: str | Path, mime_type: str | None = None) -> Part:
        return cls(path=Path(path), mime_type=mime_type)

    def describe(self) -> str:
        """A short, safe label for logs and metadata (never the bytes)."""
        if self.text is not None:
            return f"text[{len(self.text)} chars]"
        if self.path is not None:
            return str(self.path)
        return f"{self.mime_type}[{len(self.data or b'')} bytes]"


@dataclass(frozen=True, slots=True)
class Content:
    """Parts that together give one embedding."""

    parts: tuple[Part, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise InvalidInput("a Content needs at least one Part")


def _pil_to_part(image: Any) -> Part:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return Part.from_bytes(buf.getvalue(), "image/png")


def to_part(item: Any) -> Part:
    """Coerce str, Path, PIL image or Part into a Part; bytes need an explicit mime type."""
    if isinstance(item, Part):
        return item
    if isinstance(item, str):
        return Part.from_text(item)
    if isinstance(item, Path):
        return Part.from_path(item)
    if isinstance(item, bytes | bytearray | memoryview):
        raise InvalidInput("raw bytes need a MIME type: use Part.from_bytes(data, mime_type)")
    if type(item).__module__.startswith("PIL."):
        return _pil_to_part(item)
    raise InvalidInput(f"cannot embed an object of type {type(item).__name__}")


def to_content(item: Any) -> Content:
    """Coerce one input into a Content: a list or tuple becomes one Content of several parts."""
    if isinstance(item, Content):
        return item
    if isinstance(item, list | tuple):
        return Content(tuple(to_part(x) for x in item))
    return Content((to_part(item),))


def to_contents(items: Any) -> list[Content]:
    """Coerce a batch: a single input becomes a batch of one; each list item is one Content."""
    if isinstance(items, str | Path | Part | Content | bytes) or type(items).__module__.startswith("PIL."):
        return [to_content(items)]
    if isinstance(items, Iterable):
        return [to_content(x) for x in items]
    return [to_content(items)]


def count_modalities(parts: Sequence[tuple[Modality, Any]]) -> dict[Modality, int]:
    counts: dict[Modality, int] = {}
    for modality, _ in parts:
        counts[modality] = counts.get(modality, 0) + 1
    return counts
