from __future__ import annotations

import pytest

from omnivec.errors import LimitExceeded, PayloadTooLarge
from omnivec.limits import (
    DEFAULT_LIMITS,
    check_audio_seconds,
    check_image_count,
    check_pdf_pages,
    check_pixels,
    check_request_bytes,
    check_text_tokens,
    check_video_seconds,
)


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (lambda: check_text_tokens(8193, DEFAULT_LIMITS), None, r"8193 tokens; the limit is 8192"),
        (lambda: check_image_count(7, DEFAULT_LIMITS), None, r"7 images; the limit is 6"),
        (lambda: check_audio_seconds(93.2, DEFAULT_LIMITS), None, r"93\.2 s; the limit is 80 s"),
        (lambda: check_video_seconds(121, False, DEFAULT_LIMITS), None, r"121\.0 s; the limit is 120 s"),
        (lambda: check_video_seconds(81, True, DEFAULT_LIMITS), None, r"81\.0 s; the limit is 80 s when its audio"),
        (lambda: check_pdf_pages(7, DEFAULT_LIMITS), None, r"7 pages; the limit is 6 pages"),
        (lambda: check_pixels(100_000, 100_000, DEFAULT_LIMITS), None, r"10,000,000,000 pixels"),
    ],
)
def test_each_limit_names_itself_and_the_value(check, value, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LimitExceeded, match=message):
        check()


def test_values_at_the_limit_pass() -> None:
    check_text_tokens(8192, DEFAULT_LIMITS)
    check_image_count(6, DEFAULT_LIMITS)
    check_audio_seconds(80.0, DEFAULT_LIMITS)
    check_video_seconds(120.0, False, DEFAULT_LIMITS)
    check_video_seconds(80.0, True, DEFAULT_LIMITS)
    check_pdf_pages(6, DEFAULT_LIMITS)


def test_request_bytes_is_413() -> None:
    with pytest.raises(PayloadTooLarge) as info:
        check_request_bytes(DEFAULT_LIMITS.max_request_bytes + 1, DEFAULT_LIMITS)
    assert info.value.http_status == 413
