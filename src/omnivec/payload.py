"""Inline media as the wire APIs send it: base64 text (standard or URL-safe) with a MIME type."""

from __future__ import annotations

import base64
import binascii
import re

from omnivec.content import Part, canonical_mime
from omnivec.errors import InvalidInput
from omnivec.media.sniff import verify_mime

_URLSAFE = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def decode_base64(data: str, what: str = "data") -> bytes:
    """Standard or URL-safe base64, padding optional (as proto3 JSON accepts).

    Raises:
        InvalidInput: not base64.
    """
    text = "".join(data.split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    if _URLSAFE.fullmatch(text):
        bare = text.rstrip("=")
        try:
            return base64.b64decode(
                (bare + "=" * (-len(bare) % 4)).translate(str.maketrans("-_", "+/")), validate=True
            )
        except (binascii.Error, ValueError):
            pass
    raise InvalidInput(f"{what} is not valid base64")


def inline_part(data: str, mime_type: str, what: str = "data") -> Part:
    """A Part from base64 text, refused when the bytes are not what ``mime_type`` says.

    Raises:
        UnsupportedMedia: the type is not supported, or the bytes contradict it.
        DecodeError: no bytes.
        InvalidInput: not base64.
    """
    mime = canonical_mime(mime_type)
    payload = decode_base64(data, what)
    verify_mime(payload, mime)
    return Part.from_bytes(payload, mime_type)
