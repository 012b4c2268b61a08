"""The limits table (mirrors Gemini Embedding 2) and the checks that enforce it.

Every check runs before heavy decoding, on sizes read from headers or containers, and
raises :class:`~omnivec.errors.LimitExceeded` naming the limit and the value found.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnivec.errors import LimitExceeded, PayloadTooLarge


@dataclass(frozen=True, slots=True)
class Limits:
    max_text_tokens: int = 8192  # word pieces per Content, all text parts together
    max_images: int = 6  # image parts per Content
    max_video_seconds: float = 120.0  # video alone
    max_video_with_audio_seconds: float = 80.0  # video whose audio track is embedded too
    max_audio_seconds: float = 80.0
    max_pdf_pages: int = 6
    max_request_bytes: int = 64 * 1024 * 1024  # decoded bytes of all parts of one request
    max_image_pixels: int = 40_000_000  # width * height read from the header; bomb guard
    max_pdf_page_points: float = 14_400.0  # longest page side in PDF points (200 inches)
    max_video_fps: float = 240.0  # declared frame rate; absurd rates are refused
    max_decoded_audio_seconds_slack: float = 1.0  # tolerance on container-declared duration


DEFAULT_LIMITS = Limits()


def check_text_tokens(n_tokens: int, limits: Limits) -> None:
    if n_tokens > limits.max_text_tokens:
        raise LimitExceeded(
            f"text is {n_tokens} tokens; the limit is {limits.max_text_tokens} tokens per content; "
            "shorten it, pass auto_truncate=True, or use `omnivec index add`, which chunks long text"
        )


def check_image_count(n_images: int, limits: Limits) -> None:
    if n_images > limits.max_images:
        raise LimitExceeded(
            f"content has {n_images} images; the limit is {limits.max_images} images per content"
        )


def check_pixels(width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise LimitExceeded(f"image declares {width}x{height} pixels; both sides must be positive")
    if width * height > limits.max_image_pixels:
        raise LimitExceeded(
            f"image declares {width}x{height} = {width * height:,} pixels; the limit is "
            f"{limits.max_image_pixels:,} pixels (decompression-bomb guard); downscale it first"
        )


def check_audio_seconds(seconds: float, limits: Limits) -> None:
    if seconds > limits.max_audio_seconds:
        raise LimitExceeded(
            f"audio is {seconds:.1f} s; the limit is {limits.max_audio_seconds:g} s; split it, "
            "or use `omnivec index add`, which segments long audio"
        )


def check_video_seconds(seconds: float, with_audio: bool, limits: Limits) -> None:
    limit = limits.max_video_with_audio_seconds if with_audio else limits.max_video_seconds
    if seconds > limit:
        extra = " when its audio track is embedded (pass video_audio=False for frames only)" if with_audio else ""
        raise LimitExceeded(
            f"video is {seconds:.1f} s; the limit is {limit:g} s{extra}; split it, "
            "or use `omnivec index add`, which segments long video"
        )


def check_pdf_pages(n_pages: int, limits: Limits) -> None:
    if n_pages > limits.max_pdf_pages:
        raise LimitExceeded(
            f"PDF has {n_pages} pages; the limit is {limits.max_pdf_pages} pages; split it, "
            "or use `omnivec index add`, which embeds long PDFs in windows of pages"
        )


def check_request_bytes(n_bytes: int, limits: Limits) -> None:
    if n_bytes > limits.max_request_bytes:
        raise PayloadTooLarge(
            f"request carries {n_bytes:,} bytes of media; the limit is "
            f"{limits.max_request_bytes:,} bytes (OMNIVEC_MAX_REQUEST_BYTES)"
        )
