"""Image bytes (PNG, JPEG, WebP) -> an upright 8-bit RGB :class:`PIL.Image.Image`.

Pillow opens lazily: ``Image.open`` parses only the header, so the declared size is checked
against the pixel limit before ``load()`` allocates anything. Pillow's own decompression-bomb
guard is kept on as a second line (it is off when ``MAX_IMAGE_PIXELS`` is None). Only the three
formats we embed are offered to Pillow, which keeps its many other parsers out of reach.
Transparency is composited on white (what a viewer shows), 16-bit samples are scaled to 8 bits,
and the EXIF orientation is applied so a phone photo is not embedded sideways.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from omnivec.errors import DecodeError, LimitExceeded
from omnivec.limits import DEFAULT_LIMITS, Limits, check_pixels

FORMATS = ("PNG", "JPEG", "WEBP")

# Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that, while parsing the header.
# Our own check (with the caller's limits) runs right after; this is the backstop for code
# paths that skip it. Never loosen a stricter value set by the host application.
if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > DEFAULT_LIMITS.max_image_pixels:
    Image.MAX_IMAGE_PIXELS = DEFAULT_LIMITS.max_image_pixels

# Errors Pillow's parsers raise on corrupt data (PNG chunk CRCs raise SyntaxError).
_CORRUPT = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning only arrives here when warnings are errors; otherwise check_pixels refuses.
        reason = str(exc).rstrip(".")
        raise LimitExceeded(
            f"image is over the decompression-bomb guard ({reason}); downscale it first"
        ) from exc
    except UnidentifiedImageError as exc:
        raise DecodeError("the bytes are not a readable PNG, JPEG or WebP image") from exc
    except _CORRUPT as exc:
        raise DecodeError(f"the image header is corrupt: {exc}") from exc


def _load(image: Image.Image) -> Image.Image:
    try:
        image.load()
        # exif_transpose reads the EXIF block, which can be as corrupt as the pixels.
        return ImageOps.exif_transpose(image)
    except _CORRUPT as exc:
        raise DecodeError(f"the {image.format} image is corrupt or truncated: {exc}") from exc


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer grayscale -> 8-bit, scaling rather than clipping."""
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image, dtype=np.float32)  # (H, W)
        return Image.fromarray(np.clip(values / 257.0, 0, 255).astype(np.uint8))  # (H, W) uint8 -> "L"
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))  # (H, W) uint8 -> "L"
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB: alpha (also palette transparency) is composited on white."""
    image = _to_8bit(image)
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def decode_image(data: bytes, limits: Limits) -> Image.Image:
    """Decode PNG, JPEG or WebP bytes to an upright RGB image.

    Args:
        data: the image bytes.
        limits: ``max_image_pixels`` is checked on the header's size before decoding.

    Returns:
        An RGB image (first frame of an animation), rotated per its EXIF orientation.

    Raises:
        DecodeError: empty, corrupt or truncated bytes, or not a PNG, JPEG or WebP image.
        LimitExceeded: the declared size is over ``limits.max_image_pixels``.
    """
    if not data:
        raise DecodeError("image is empty (0 bytes)")
    image = _open(data)  # not a `with`: closing it would also free a returned RGB image
    width, height = image.size
    check_pixels(width, height, limits)
    return to_rgb(_load(image))
