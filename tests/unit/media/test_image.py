"""decode_image on real PNG/JPEG/WebP files, odd pixel formats, corrupt bytes and a crafted bomb."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omnivec.errors import DecodeError, LimitExceeded
from omnivec.limits import DEFAULT_LIMITS
from omnivec.media.image import decode_image


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header (valid CRCs) declaring ``width`` x ``height`` RGB, with a tiny body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fixture", "tolerance"), [("photo_png", 0.0), ("photo_jpeg", 6.0), ("photo_webp", 8.0)]
)
def test_decodes_each_format_to_the_original_pixels(
    fixture: str, tolerance: float, photo: Image.Image, request: pytest.FixtureRequest
) -> None:
    image = decode_image(request.getfixturevalue(fixture).read_bytes(), DEFAULT_LIMITS)
    assert image.mode == "RGB"
    assert image.size == photo.size
    diff = np.abs(np.asarray(image, np.float32) - np.asarray(photo, np.float32)).mean()
    assert diff <= tolerance


def test_exif_orientation_is_applied(photo: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    image = decode_image(_encode(photo, "JPEG", exif=exif.tobytes()), DEFAULT_LIMITS)
    assert image.size == (photo.height, photo.width)


def test_alpha_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    image = decode_image(_encode(rgba, "PNG"), DEFAULT_LIMITS)
    assert image.getpixel((5, 5)) == (255, 255, 255)
    assert image.getpixel((0, 0)) == (0, 0, 255)


def test_palette_transparency_is_composited_on_white() -> None:
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 200, 10, 10])
    palette.putpixel((0, 0), 1)
    image = decode_image(_encode(palette, "PNG", transparency=0), DEFAULT_LIMITS)
    assert image.getpixel((3, 3)) == (255, 255, 255)
    assert image.getpixel((0, 0)) == (200, 10, 10)


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    values = np.array([[0, 32896, 65535]], dtype=np.uint16)
    image = decode_image(_encode(Image.fromarray(values), "PNG"), DEFAULT_LIMITS)
    assert [image.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


def test_grayscale_and_cmyk_become_rgb(photo: Image.Image) -> None:
    assert decode_image(_encode(photo.convert("L"), "PNG"), DEFAULT_LIMITS).mode == "RGB"
    assert decode_image(_encode(photo.convert("CMYK"), "JPEG"), DEFAULT_LIMITS).mode == "RGB"


def test_enormous_declared_size_is_refused_fast_without_allocating() -> None:
    bomb = _png_claiming(100_000, 100_000)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(LimitExceeded, match="decompression-bomb guard"):
        decode_image(bomb, DEFAULT_LIMITS)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 5_000_000  # 30 GB if it had been decoded


def test_our_limit_is_checked_from_the_header(photo_png: Path) -> None:
    small = replace(DEFAULT_LIMITS, max_image_pixels=10_000)
    with pytest.raises(LimitExceeded, match=r"451x300 = 135,300 pixels; the limit is 10,000 pixels"):
        decode_image(photo_png.read_bytes(), small)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # as the suite will run
def test_size_just_over_the_limit_is_refused() -> None:
    # Pillow only warns below twice its guard; the refusal is ours (or the warning, when it is an error).
    with pytest.raises(LimitExceeded, match="decompression-bomb guard"):
        decode_image(_png_claiming(7000, 7000), DEFAULT_LIMITS)  # 49 M pixels > 40 M


def test_truncated_png_is_a_decode_error(photo_png: Path) -> None:
    data = photo_png.read_bytes()
    with pytest.raises(DecodeError, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2], DEFAULT_LIMITS)


def test_corrupt_png_is_a_decode_error(photo_png: Path) -> None:
    data = bytearray(photo_png.read_bytes())
    start = data.find(b"IDAT") + 4
    data[start : start + 200] = bytes(200)  # zero out the start of the compressed pixels
    with pytest.raises(DecodeError):
        decode_image(bytes(data), DEFAULT_LIMITS)


def test_bad_header_checksum_is_a_decode_error(photo_png: Path) -> None:
    data = bytearray(photo_png.read_bytes())
    data[20] ^= 0xFF  # a byte of the IHDR body, so its CRC no longer matches
    with pytest.raises(DecodeError):
        decode_image(bytes(data), DEFAULT_LIMITS)


def test_not_an_image_is_a_decode_error(photo: Image.Image) -> None:
    with pytest.raises(DecodeError, match="not a readable PNG, JPEG or WebP"):
        decode_image(b"definitely not an image", DEFAULT_LIMITS)
    with pytest.raises(DecodeError, match="not a readable PNG, JPEG or WebP"):
        decode_image(_encode(photo, "GIF"), DEFAULT_LIMITS)  # a real image, but not a type we embed


def test_empty_bytes_are_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="empty"):
        decode_image(b"", DEFAULT_LIMITS)
