"""Long audio and video cut into segments of at most 30 s, each embedded as its own content.

This is the opt-in answer (``omnivecSegments``) to media over the per-content limits: instead
of refusing, the server returns one vector per segment with its start and end time.

* audio: decoded once to 16 kHz mono, cut into equal segments of at most
  :data:`SEGMENT_SECONDS`, each re-encoded as 16-bit WAV; a segment's vector is exactly what
  the library gives for that WAV.
* video: per segment, frames sampled as the model samples a clip (one per 4 s, at most 4),
  sent as PNG image parts, plus the segment's audio track as a WAV part when the video has
  one. The parts are fused as one multi-part content, so a segment's vector is close to, not
  identical with, what the same clip gives as a single video part.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

from omnivec.config import Settings
from omnivec.content import Content, Part, canonical_mime, modality_of
from omnivec.errors import InvalidInput, LimitExceeded
from omnivec.media.audio import encode_wav

SEGMENT_SECONDS = 30.0  # longest segment; under every per-content media limit
SAMPLE_RATE = 16000  # Hz of re-encoded audio segments (what the speech recognizer reads)
SECONDS_PER_FRAME = 4.0  # video: one sampled frame per this many seconds of a segment...
MAX_FRAMES = 4  # ...and at most this many


@dataclass(frozen=True, slots=True)
class Segment:
    start: float  # seconds from the start of the media
    end: float
    content: Content


def bounds(seconds: float, longest: float = SEGMENT_SECONDS) -> list[tuple[float, float]]:
    """Equal consecutive spans covering ``seconds``, none longer than ``longest``."""
    n = max(1, math.ceil(seconds / longest - 1e-9))
    step = seconds / n
    return [(i * step, seconds if i == n - 1 else (i + 1) * step) for i in range(n)]


def _png(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # type: ignore[attr-defined]
    return buffer.getvalue()


def _bytes_of(part: Part, settings: Settings) -> tuple[bytes, str]:
    from omnivec.media.files import read_file
    from omnivec.media.sniff import verify_mime

    declared = canonical_mime(part.mime_type) if part.mime_type else None
    if part.data is not None:
        data = part.data
    elif part.path is not None:
        data = read_file(part.path, settings.allowed_roots, settings.limits.max_request_bytes)
    else:
        raise InvalidInput("omnivecSegments applies to audio and video parts, not text")
    return data, verify_mime(data, declared)


def segment_content(
    content: Content, settings: Settings, max_seconds: float, video_audio: bool = True
) -> list[Segment]:
    """Cut a content of one audio or video part into segments (blocking: decodes the media).

    Args:
        content: exactly one audio or video part.
        settings: allowed roots and limits of the served model.
        max_seconds: the longest media accepted for segmenting.
        video_audio: embed a video's audio track with its frames.

    Raises:
        InvalidInput: the content is not one audio or video part.
        LimitExceeded: the media is longer than ``max_seconds``.
        DecodeError, UnsupportedMedia: the bytes cannot be read.
    """
    if len(content.parts) != 1:
        raise InvalidInput(
            f"omnivecSegments needs a content with exactly one audio or video part; this one has {len(content.parts)} parts"
        )
    data, mime = _bytes_of(content.parts[0], settings)
    modality = modality_of(mime)
    if modality == "audio":
        return _audio_segments(data, max_seconds)
    if modality == "video":
        return _video_segments(data, settings, max_seconds, video_audio)
    raise InvalidInput(f"omnivecSegments applies to audio and video; this part is {modality} ({mime})")


def _audio_segments(data: bytes, max_seconds: float) -> list[Segment]:
    from omnivec.media.audio import decode_audio

    samples = decode_audio(data, max_seconds, SAMPLE_RATE)  # (N,) at 16 kHz
    segments = []
    for start, end in bounds(len(samples) / SAMPLE_RATE):
        chunk = samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
        segments.append(Segment(start, end, Content((Part.from_bytes(encode_wav(chunk), "audio/wav"),))))
    return segments


def _frame_times(start: float, end: float) -> list[float]:
    n = max(1, min(MAX_FRAMES, math.ceil((end - start) / SECONDS_PER_FRAME)))
    return [start + (end - start) * (i + 0.5) / n for i in range(n)]


def _video_segments(data: bytes, settings: Settings, max_seconds: float, video_audio: bool) -> list[Segment]:
    from omnivec.media.audio import decode_audio
    from omnivec.media.video import probe_video, sample_frames

    limits = replace(settings.limits, max_video_seconds=max_seconds, max_video_with_audio_seconds=max_seconds)
    info = probe_video(data, limits)
    if info.seconds > max_seconds:
        raise LimitExceeded(
            f"video is {info.seconds:.1f} s; the limit for segmenting is {max_seconds:g} s (OMNIVEC_MAX_SEGMENTED_SECONDS)"
        )
    spans = bounds(info.seconds)
    times = [_frame_times(start, end) for start, end in spans]
    frames = iter(sample_frames(data, [t for ts in times for t in ts], limits))
    samples = decode_audio(data, max_seconds, SAMPLE_RATE) if info.has_audio and video_audio else None
    segments = []
    for (start, end), ts in zip(spans, times, strict=True):
        parts = [Part.from_bytes(_png(next(frames)), "image/png") for _ in ts]
        if samples is not None:
            chunk = samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
            if chunk.size:
                parts.append(Part.from_bytes(encode_wav(chunk), "audio/wav"))
        segments.append(Segment(start, end, Content(tuple(parts))))
    return segments
