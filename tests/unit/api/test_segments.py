"""Segment bounds and WAV re-encoding (checked with the real audio decoder)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from omnivec.api.segments import SEGMENT_SECONDS, bounds
from omnivec.media.audio import decode_audio
from omnivec.media.audio import encode_wav as wav_bytes


@pytest.mark.parametrize("seconds", [0.5, 30.0, 30.01, 61.0, 86.4, 3599.0])
def test_bounds_cover_the_media_in_equal_segments(seconds: float) -> None:
    spans = bounds(seconds)
    assert spans[0][0] == 0.0 and spans[-1][1] == seconds
    assert all(end - start <= SEGMENT_SECONDS + 1e-9 for start, end in spans)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert len(spans) == max(1, int(np.ceil(seconds / SEGMENT_SECONDS - 1e-9)))


def test_wav_round_trip() -> None:
    t = np.arange(16000 * 2) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    decoded = decode_audio(wav_bytes(tone), max_seconds=10)
    assert decoded.shape == tone.shape
    np.testing.assert_allclose(decoded, tone, atol=1e-3)
