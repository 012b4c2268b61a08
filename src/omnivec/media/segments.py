"""Long audio and video -> time segments, each cut out as media the model embeds like a short clip.

One planner and one cutter, shared by the API's ``omnivecSegments`` and the index's chunking:

* :func:`plan_spans` splits a duration into the fewest equal spans of at most ``seconds``,
  consecutive ones sharing ``overlap_seconds`` (0: back to back). Equal spans leave no short
  sliver at the end, and no span is ever longer than ``seconds``.
* audio (:func:`segment_audio`): decoded once to 16 kHz mono; each span re-encoded as 16-bit
  WAV, so a segment's vector is exactly what the model gives for that WAV.
* video (:func:`segment_video`): each span becomes a small *proxy video*: frames sampled at the
  centres of equal slices of the span (one per ``frame_seconds``, at most ``max_frames``), each
  held for its slice, plus the span's audio, in a QuickTime file (lossless PNG frames, PCM
  audio). The model then embeds it exactly as it embeds a short video, so segment vectors and
  whole-video vectors are made the same way. Cutting by stream-copy re-muxing was rejected:
  cuts snap to keyframes, which can be a minute apart (x264's default is one per 250 frames),
  so segments would overrun the limit.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from omnivec.errors import InvalidInput, LimitExceeded
from omnivec.limits import DEFAULT_LIMITS, Limits
from omnivec.media.audio import encode_wav

SAMPLE_RATE = 16_000  # Hz: segments' audio, decoded and re-encoded at the rate the speech recognizer reads
PROXY_MAX_SIDE = 1_280  # pixels: proxy frames are downscaled to this longest side


@dataclass(frozen=True, slots=True)
class SegmentPolicy:
    seconds: float = 30.0  # longest segment (> 0; keep it under the model's audio/video limits)
    overlap_seconds: float = 0.0  # shared by consecutive segments (0 <= overlap < seconds)
    frame_seconds: float = 4.0  # video: one proxy frame per this many seconds of a segment...
    max_frames: int = 4  # ...and at most this many (>= 1)

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and 0 <= self.overlap_seconds < self.seconds):
            raise InvalidInput(
                f"segments need seconds > 0 and 0 <= overlap < seconds, not {self.seconds:g} and "
                f"{self.overlap_seconds:g}"
            )
        if not (self.frame_seconds > 0 and self.max_frames >= 1):
            raise InvalidInput(f"video segments need frame_seconds > 0 and max_frames >= 1, not "
                               f"{self.frame_seconds:g} and {self.max_frames}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class MediaSegment:
    start: float  # seconds from the start of the media
    end: float
    data: bytes  # the segment as a file of its own
    mime: str  # "audio/wav" or "video/quicktime"


def plan_spans(total: float, seconds: float, overlap: float = 0.0) -> list[tuple[float, float]]:
    """The fewest equal (start, end) spans covering ``[0, total]``, each at most ``seconds`` long,
    consecutive ones overlapping by ``overlap`` seconds.

    Raises:
        InvalidInput: not ``0 <= overlap < seconds``.
    """
    SegmentPolicy(seconds, overlap)  # validates
    if total <= seconds:
        return [(0.0, total)]
    n = math.ceil((total - overlap) / (seconds - overlap) - 1e-9)
    step = (total - overlap) / n  # n * step + overlap == total; step + overlap <= seconds
    return [(i * step, total if i == n - 1 else (i + 1) * step + overlap) for i in range(n)]


def _too_long(what: str, seconds: float, max_seconds: float) -> LimitExceeded:
    return LimitExceeded(
        f"{what} is {seconds:.1f} s; the longest {what} accepted for segmenting is {max_seconds:g} s"
    )


def _cut(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    return samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]  # (N,) -> (n,)


def segment_audio(data: bytes, policy: SegmentPolicy, max_seconds: float = math.inf) -> list[MediaSegment]:
    """Cut audio into WAV segments (blocking: decodes the whole stream once).

    Args:
        data: WAV, MP3, FLAC, Ogg bytes (or a video's, for its audio track).
        policy: segment length and overlap.
        max_seconds: the longest audio accepted.

    Raises:
        LimitExceeded: the audio is longer than ``max_seconds``, or decodes to far more than
            its container declares.
        DecodeError, UnsupportedMedia: the bytes cannot be read.
    """
    from omnivec.media.audio import decode_audio, probe_audio_seconds

    declared = probe_audio_seconds(data)
    if declared > max_seconds:
        raise _too_long("audio", declared, max_seconds)
    samples = decode_audio(data, declared + DEFAULT_LIMITS.max_decoded_audio_seconds_slack, SAMPLE_RATE)
    return [
        MediaSegment(start, end, encode_wav(_cut(samples, start, end), SAMPLE_RATE), "audio/wav")
        for start, end in plan_spans(len(samples) / SAMPLE_RATE, policy.seconds, policy.overlap_seconds)
    ]


def frame_times(start: float, end: float, policy: SegmentPolicy) -> list[float]:
    """Where a video segment's proxy frames are sampled: the centres of equal slices of the span."""
    n = max(1, min(policy.max_frames, math.ceil((end - start) / policy.frame_seconds - 1e-9)))
    return [start + (end - start) * (i + 0.5) / n for i in range(n)]


def segment_video(
    data: bytes, policy: SegmentPolicy, limits: Limits, max_seconds: float = math.inf, with_audio: bool = True
) -> list[MediaSegment]:
    """Cut a video into proxy-video segments (blocking: decodes the sampled frames and the audio).

    Args:
        data: MP4, QuickTime or WebM bytes.
        policy: segment length and overlap, and how many frames each proxy holds.
        limits: frame size and rate limits, checked before decoding.
        max_seconds: the longest video accepted.
        with_audio: keep the audio track (when the video has one) in the proxies.

    Raises:
        LimitExceeded: the video is longer than ``max_seconds``, or its frames are too large.
        DecodeError, UnsupportedMedia: the bytes cannot be read.
    """
    from omnivec.media.audio import decode_audio
    from omnivec.media.video import probe_video, sample_frames

    # An undeclared duration is then estimated up to just past max_seconds: exact, or too long.
    probe_limits = replace(limits, max_video_seconds=max_seconds, max_video_with_audio_seconds=max_seconds)
    info = probe_video(data, probe_limits)
    if info.seconds > max_seconds:
        raise _too_long("video", info.seconds, max_seconds)
    audio = None
    if info.has_audio and with_audio:
        audio = decode_audio(data, info.seconds + limits.max_decoded_audio_seconds_slack, SAMPLE_RATE)
    segments = []
    for start, end in plan_spans(info.seconds, policy.seconds, policy.overlap_seconds):
        frames = sample_frames(data, frame_times(start, end, policy), limits)  # per segment: bounded memory
        proxy = video_proxy(frames, end - start, _cut(audio, start, end) if audio is not None else None)
        segments.append(MediaSegment(start, end, proxy, "video/quicktime"))
    return segments


def _proxy_frame(image: Any) -> Any:
    scale = PROXY_MAX_SIDE / max(image.size)
    if scale >= 1:
        return image.convert("RGB")
    return image.convert("RGB").resize(
        (max(2, round(image.width * scale)), max(2, round(image.height * scale)))
    )


def video_proxy(frames: Sequence[Any], seconds: float, audio: np.ndarray | None) -> bytes:
    """A QuickTime video lasting ``seconds``: ``frames`` (PIL images) held in turn, plus mono audio.

    Frames are PNG (lossless) and audio 16-bit PCM at 16 kHz, so the model sees the pixels and
    samples of the segment unchanged. An empty ``audio`` (the track ended earlier) is left out.
    Each frame is written twice, at the start and at the centre of its slot: a decoder that
    takes the frame *nearest* a time (as :func:`~omnivec.media.video.sample_frames` does) then
    gets it at the slot's centre, where models sample, not the next one (a tie otherwise).
    """
    import av

    images = [_proxy_frame(f) for f in frames]
    tick = Fraction(seconds / len(images) / 2).limit_denominator(1000)  # half a slot, in seconds
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mov") as out:
        video = out.add_stream("png", rate=1 / tick)
        video.width, video.height = images[0].size
        video.pix_fmt = "rgb24"
        video.codec_context.time_base = tick  # one tick per written frame
        sound = out.add_stream("pcm_s16le", rate=SAMPLE_RATE) if audio is not None and audio.size else None
        if sound is not None:  # every stream exists before the first packet is written
            sound.layout = "mono"
        for i, image in enumerate(images):
            for pts in (2 * i, 2 * i + 1):  # the slot's start and centre
                frame = av.VideoFrame.from_image(image.resize(images[0].size))  # type: ignore[no-untyped-call]
                frame.pts = pts
                out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None and audio is not None:
            _mux_pcm(out, sound, audio)
    return buffer.getvalue()


def _mux_pcm(out: Any, stream: Any, samples: np.ndarray) -> None:
    import av

    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    for start in range(0, len(pcm), SAMPLE_RATE):
        frame = av.AudioFrame.from_ndarray(
            pcm[None, start : start + SAMPLE_RATE], format="s16", layout="mono"
        )  # (1, n)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
