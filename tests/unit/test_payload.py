"""Base64 in bodies: both alphabets, optional padding, and the label checked against the bytes."""

from __future__ import annotations

import base64

import pytest

from omnivec.errors import DecodeError, InvalidInput, UnsupportedMedia
from omnivec.payload import decode_base64, inline_part

DATA = bytes(range(256)) * 3


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(DATA).decode(),
        base64.urlsafe_b64encode(DATA).decode(),
        base64.urlsafe_b64encode(DATA).decode().rstrip("="),
        "\n".join(base64.b64encode(DATA).decode()[i : i + 76] for i in range(0, 1024, 76)),
    ],
)
def test_decodes_every_form(encoded: str) -> None:
    assert decode_base64(encoded) == DATA


@pytest.mark.parametrize("bad", ["@@@@", "a", "a+b_", "aGVsbG8=x"])
def test_refuses_garbage(bad: str) -> None:
    with pytest.raises(InvalidInput, match="not valid base64"):
        decode_base64(bad, "inlineData.data")


def test_inline_part_checks_the_label() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    assert inline_part(base64.b64encode(png).decode(), "image/png").data == png
    with pytest.raises(UnsupportedMedia, match="declared image/jpeg but the bytes are a PNG image"):
        inline_part(base64.b64encode(png).decode(), "image/jpeg")
    with pytest.raises(UnsupportedMedia, match="not supported"):
        inline_part(base64.b64encode(png).decode(), "image/tiff")
    with pytest.raises(DecodeError, match="empty"):
        inline_part("", "image/png")
