"""Audio bytes (WAV, MP3, FLAC, Ogg, or the first audio track of a video) -> mono float32 samples.

The declared duration is checked first, from the container header. Decoding then runs as a
stream and stops once the decoded audio passes the limit plus a little slack, so a container
that lies about its duration, or an endless stream, cannot exhaust memory or CPU.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import replace

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer

from omnivec.errors import DecodeError, LimitExceeded
from omnivec.limits import DEFAULT_LIMITS, check_audio_seconds
from omnivec.media.container import ffmpeg_errors, open_container, stream_seconds

WHAT = "audio"


def _audio_stream(container: InputContainer) -> AudioStream:
    if not container.streams.audio:
        kinds = ", ".join(s.type for s in container.streams) or "no streams at all"
        raise DecodeError(f"the file has no audio stream (it holds {kinds})")
    return container.streams.audio[0]


def probe_audio_seconds(data: bytes) -> float:
    """Duration of the first audio stream, from the container (demuxed packets if undeclared).

    Raises:
        DecodeError: the bytes cannot be read, or hold no audio stream.
        UnsupportedMedia: the bytes are no audio or video type omnivec reads.
    """
    container, _ = open_container(data, WHAT)
    with container, ffmpeg_errors(WHAT):
        return stream_seconds(container, _audio_stream(container))


def _over_limit(decoded: float, declared: float, max_seconds: float) -> LimitExceeded:
    return LimitExceeded(
        f"audio decodes to more than {decoded:.1f} s although its container declares {declared:.1f} s; "
        f"the limit is {max_seconds:g} s; split it, or use `omnivec index add`, which segments long audio"
    )


def decode_audio(data: bytes, max_seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """Decode the first audio stream to mono float32 samples at ``sample_rate``.

    Args:
        data: WAV, MP3, FLAC, Ogg, MP4, QuickTime or WebM bytes.
        max_seconds: the longest audio accepted, checked on the declared duration before
            decoding and on the decoded samples while decoding.
        sample_rate: output rate in Hz.

    Returns:
        ``(N,)`` float32 samples in [-1, 1].

    Raises:
        LimitExceeded: the audio is longer than ``max_seconds``.
        DecodeError: corrupt or truncated bytes, no audio stream, or no decodable frames.
        UnsupportedMedia: the bytes are no audio or video type omnivec reads.
    """
    slack = DEFAULT_LIMITS.max_decoded_audio_seconds_slack
    container, _ = open_container(data, WHAT)
    with container, ffmpeg_errors(WHAT):
        # A demuxed estimate (no declared duration) is capped just past the limit: enough to
        # refuse, bounded work.
        declared = stream_seconds(container, _audio_stream(container), cap=max_seconds + slack)
    check_audio_seconds(declared, replace(DEFAULT_LIMITS, max_audio_seconds=max_seconds))
    # A fresh container: the estimate may have consumed packets, and seeking is format-dependent.
    container, _ = open_container(data, WHAT)
    with container, ffmpeg_errors(WHAT):
        return _decode_stream(container, _audio_stream(container), max_seconds, declared, sample_rate)


def _resampled(container: InputContainer, stream: AudioStream, sample_rate: int) -> Iterator[np.ndarray]:
    """Decoded audio as it arrives, in mono float32 chunks at ``sample_rate``."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    frames: Iterator[AudioFrame | None] = itertools.chain(container.decode(stream), [None])
    for frame in frames:  # the final None flushes the resampler
        for out in resampler.resample(frame):
            yield out.to_ndarray().reshape(-1)  # (1, n) packed mono -> (n,)


def _decode_stream(
    container: InputContainer, stream: AudioStream, max_seconds: float, declared: float, sample_rate: int
) -> np.ndarray:
    max_samples = math.ceil((max_seconds + DEFAULT_LIMITS.max_decoded_audio_seconds_slack) * sample_rate)
    chunks: list[np.ndarray] = []
    total = 0
    for chunk in _resampled(container, stream, sample_rate):
        chunks.append(chunk)
        total += chunk.size
        if total > max_samples:  # stop at the limit, whatever the header claimed
            raise _over_limit(total / sample_rate, declared, max_seconds)
    if not chunks:
        raise DecodeError("the audio stream has no decodable frames (empty, corrupt or truncated)")
    return np.concatenate(chunks).astype(np.float32, copy=False)


def encode_wav(samples: np.ndarray, sample_rate: int = 16000) -> bytes:
    """(N,) float32 mono in [-1, 1] -> 16-bit PCM WAV bytes (how segments of long audio are re-embedded)."""
    import io
    import wave

    pcm = np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()
