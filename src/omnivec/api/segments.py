"""Long audio and video cut into segments of at most 30 s, each embedded as its own content.

This is the opt-in answer (``omnivecSegments``) to media over the per-content limits: instead
of refusing, the server returns one vector per segment with its start and end time. The
segments are planned and cut by :mod:`omnivec.media.segments`, as the index's are, here as
equal back-to-back spans:

* audio: each segment is a 16 kHz 16-bit WAV; its vector is exactly what the library gives
  for that WAV.
* video: each segment is a proxy video holding the frames the model would sample from that
  clip (one per 4 s, at most 4) and the segment's audio track (unless the options leave it out),
  so it is embedded exactly as a short video is.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnivec.config import Settings
from omnivec.content import Content, Part, canonical_mime, modality_of
from omnivec.errors import InvalidInput
from omnivec.media.segments import SAMPLE_RATE, MediaSegment, SegmentPolicy, plan_spans

SEGMENT_SECONDS = 30.0  # longest segment; under every per-content media limit
POLICY = SegmentPolicy(seconds=SEGMENT_SECONDS, overlap_seconds=0.0, frame_seconds=4.0, max_frames=4)

__all__ = ["POLICY", "SAMPLE_RATE", "SEGMENT_SECONDS", "Segment", "bounds", "segment_content"]


@dataclass(frozen=True, slots=True)
class Segment:
    start: float  # seconds from the start of the media
    end: float
    content: Content


def bounds(seconds: float) -> list[tuple[float, float]]:
    """Equal consecutive spans covering ``seconds``, none longer than :data:`SEGMENT_SECONDS`."""
    return plan_spans(seconds, POLICY.seconds, POLICY.overlap_seconds)


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
        max_seconds: the longest media accepted for segmenting (OMNIVEC_MAX_SEGMENTED_SECONDS).
        video_audio: embed a video's audio track with its frames.

    Raises:
        InvalidInput: the content is not one audio or video part.
        LimitExceeded: the media is longer than ``max_seconds``.
        DecodeError, UnsupportedMedia: the bytes cannot be read.
    """
    from omnivec.media.segments import segment_audio, segment_video

    if len(content.parts) != 1:
        raise InvalidInput(
            f"omnivecSegments needs a content with exactly one audio or video part; this one has {len(content.parts)} parts"
        )
    data, mime = _bytes_of(content.parts[0], settings)
    modality = modality_of(mime)
    pieces: list[MediaSegment]
    if modality == "audio":
        pieces = segment_audio(data, POLICY, max_seconds)
    elif modality == "video":
        pieces = segment_video(data, POLICY, settings.limits, max_seconds, video_audio)
    else:
        raise InvalidInput(f"omnivecSegments applies to audio and video; this part is {modality} ({mime})")
    return [Segment(p.start, p.end, Content((Part.from_bytes(p.data, p.mime),))) for p in pieces]
