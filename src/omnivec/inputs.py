"""Resolve Parts into checked inputs: bytes read (inside allowed roots), real type verified.

This is the boundary where a Part's declared MIME type meets its bytes: the type is sniffed
from the bytes and a mismatch is refused, and the request's total bytes are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omnivec.config import Settings
from omnivec.content import Content, Modality, Part, canonical_mime, modality_of
from omnivec.limits import check_image_count, check_request_bytes


@dataclass(frozen=True, slots=True)
class LoadedPart:
    modality: Modality
    mime_type: str
    text: str | None  # for text parts
    data: bytes | None  # for media parts
    source: str  # a label for metadata: file path or "inline"


def load_part(part: Part, settings: Settings) -> LoadedPart:
    if part.text is not None:
        return LoadedPart("text", "text/plain", part.text, None, "inline")
    from omnivec.media.files import read_file
    from omnivec.media.sniff import verify_mime

    if part.path is not None:
        declared = canonical_mime(part.mime_type) if part.mime_type else None
        data = read_file(part.path, settings.allowed_roots, settings.limits.max_request_bytes)
        source = str(part.path)
    else:
        assert part.data is not None and part.mime_type is not None  # guaranteed by Part
        declared = canonical_mime(part.mime_type)
        data = bytes(part.data)
        source = "inline"
    mime = verify_mime(data, declared)
    modality = modality_of(mime)
    if modality == "text":
        return LoadedPart("text", mime, _decode_text(data, source), None, source)
    return LoadedPart(modality, mime, None, data, source)


def _decode_text(data: bytes, source: str) -> str:
    from omnivec.errors import DecodeError

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"text in {source} is not valid UTF-8 (byte {exc.start})") from exc


def load_contents(contents: Sequence[Content], settings: Settings) -> list[list[LoadedPart]]:
    """Load every part of every content, enforcing the per-content image count and request bytes."""
    loaded = [[load_part(p, settings) for p in c.parts] for c in contents]
    total = sum(len(p.data or b"") + len((p.text or "").encode()) for parts in loaded for p in parts)
    check_request_bytes(total, settings.limits)
    for parts in loaded:
        check_image_count(sum(p.modality == "image" for p in parts), settings.limits)
    return loaded


def with_title(parts: Sequence[LoadedPart], title: str) -> list[LoadedPart]:
    """RETRIEVAL_DOCUMENT: the title leads the first text part, or becomes one."""
    out = list(parts)
    for i, p in enumerate(out):
        if p.modality == "text" and p.text is not None:
            out[i] = LoadedPart("text", p.mime_type, f"{title}\n{p.text}", None, p.source)
            return out
    return [LoadedPart("text", "text/plain", title, None, "title"), *out]
