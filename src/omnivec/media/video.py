"""Video bytes (MP4, QuickTime, WebM) -> its size, duration and frames sampled at given times.

:func:`probe_video` reads only headers (and, when no duration is declared, packet timestamps)
and refuses absurd frame sizes and rates before anything is decoded. :func:`sample_frames`
decodes the frames nearest the requested times: in one pass for short clips, by seeking to the
keyframe before each time for long ones, always under a frame budget, and with FFmpeg's own
``max_pixels`` guard so a stream that changes size mid-way cannot allocate a bomb.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from omnivec.errors import DecodeError, LimitExceeded
from omnivec.limits import Limits, check_pixels
from omnivec.media.container import ffmpeg_errors, open_container, stream_seconds

logger = logging.getLogger(__name__)

WHAT = "video"
SEQUENTIAL_MAX_FRAMES = 600  # up to this many frames before the last time, decode in one pass
SEEK_BUDGET_SECONDS = 20.0  # after a seek, decode at most this much video (most GOPs are shorter)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    seconds: float  # duration of the video stream; past the limit when estimated and capped
    width: int  # pixels
    height: int  # pixels
    fps: float  # average frame rate; 0.0 when the container declares none
    has_audio: bool  # the container also holds an audio stream


def _video_stream(container: InputContainer, limits: Limits) -> VideoStream:
    """The first real video stream (cover art is skipped), its frame size checked."""
    streams = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not streams:
        kinds = ", ".join(s.type for s in container.streams) or "no streams at all"
        raise DecodeError(
            f"the file has no video stream (it holds {kinds}); if it is audio, send it as audio "
            "(audio/mpeg, audio/ogg, audio/wav or audio/flac)"
        )
    stream = streams[0]
    if stream.codec_context is None:  # a codec id FFmpeg has no decoder for (corrupt headers give these)
        raise DecodeError("the video stream's codec cannot be decoded; the file is corrupt or uses an unknown codec")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise DecodeError("the video stream declares no frame size; the file is corrupt or truncated")
    check_pixels(width, height, limits)
    return stream


def _fps(stream: VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(data: bytes, limits: Limits) -> VideoInfo:
    """Read a video's duration, frame size and rate from its container, decoding nothing.

    The duration comes from the stream or container header; when neither declares one it is
    estimated from packet timestamps, and that estimate stops just past the longest video
    limit, so it is then only a lower bound (large enough to fail ``check_video_seconds``).

    Raises:
        LimitExceeded: the frame size is over ``max_image_pixels``, or the frame rate is over
            ``max_video_fps``.
        DecodeError: corrupt or truncated bytes, or no video stream.
        UnsupportedMedia: the bytes are not a video type omnivec reads.
    """
    container, _ = open_container(data, WHAT)
    with container, ffmpeg_errors(WHAT):
        stream = _video_stream(container, limits)
        fps = _fps(stream)
        if fps > limits.max_video_fps:
            raise LimitExceeded(
                f"video declares {fps:g} frames per second; the limit is {limits.max_video_fps:g} fps"
            )
        has_audio = bool(container.streams.audio)
        # An estimate stops just past the longest limit: enough to refuse, bounded work.
        cap = max(limits.max_video_seconds, limits.max_video_with_audio_seconds) + 1.0
        seconds = stream_seconds(container, stream, cap=cap)
        width, height = stream.codec_context.width, stream.codec_context.height
    return VideoInfo(seconds=seconds, width=width, height=height, fps=fps, has_audio=has_audio)


@dataclass(slots=True)
class _Target:
    time: float  # seconds from the start of the video
    index: int  # position in the caller's list


def _timed(
    frames: Iterable[VideoFrame], start: float, fps: float, limits: Limits
) -> Iterator[tuple[float, VideoFrame]]:
    """(seconds from start, frame), refusing any frame over the pixel limit."""
    for count, frame in enumerate(frames):
        check_pixels(frame.width, frame.height, limits)
        time = frame.time
        yield (time - start if time is not None else count / (fps or 1.0)), frame


def _to_image(frame: VideoFrame) -> Image.Image:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV's stub is untyped
    return image


def _pick(timed: Iterator[tuple[float, VideoFrame]], targets: list[_Target], budget: int,
          found: dict[int, Image.Image]) -> None:  # fmt: skip
    """Decode forward, storing for each target (sorted by time) the frame nearest its time.

    Targets past the last frame decoded (end of stream, or budget spent) get that last frame.
    """
    pending = list(targets)
    prev: tuple[float, VideoFrame] | None = None
    for decoded, (time, frame) in enumerate(timed):
        while pending and time >= pending[0].time:
            target = pending.pop(0)
            use_prev = prev is not None and target.time - prev[0] < time - target.time
            found[target.index] = _to_image(prev[1] if use_prev and prev else frame)
        prev = (time, frame)
        if not pending:
            return
        if decoded + 1 >= budget:
            logger.warning("video: frame budget of %d spent before %.2f s; using the last frame", budget,
                           pending[0].time)  # fmt: skip
            break
    if prev is None:
        return
    last = _to_image(prev[1])
    for target in pending:
        found[target.index] = last


def sample_frames(data: bytes, times: Sequence[float], limits: Limits) -> list[Image.Image]:
    """Decode the frames nearest ``times`` (seconds from the start) as RGB images.

    Args:
        data: MP4, QuickTime or WebM bytes.
        times: when to sample, in any order; times past the end give the last frame.
        limits: frame size (``max_image_pixels``) is checked before and during decoding.

    Returns:
        One RGB image per time, in the order of ``times``.

    Raises:
        LimitExceeded: the frame size is over ``max_image_pixels``.
        DecodeError: corrupt or truncated bytes, no video stream, or no decodable frame.
        UnsupportedMedia: the bytes are not a video type omnivec reads.
    """
    if not times:
        return []
    targets = sorted((_Target(max(0.0, t), i) for i, t in enumerate(times)), key=lambda x: x.time)
    found: dict[int, Image.Image] = {}
    container, _ = open_container(data, WHAT)
    with container, ffmpeg_errors(WHAT):
        stream = _video_stream(container, limits)
        # FFmpeg refuses to allocate frames over the limit, even after a mid-stream size change.
        stream.codec_context.options = {"max_pixels": str(limits.max_image_pixels)}
        stream.thread_type = "AUTO"
        fps = min(_fps(stream) or limits.max_video_fps, limits.max_video_fps)
        start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
        if targets[-1].time * fps <= SEQUENTIAL_MAX_FRAMES:
            budget = math.ceil((targets[-1].time + 1.0) * fps) + 16  # +16: B-frame reordering slack
            _pick(_timed(container.decode(stream), start, fps, limits), targets, budget, found)
        else:
            _seek_and_pick(container, stream, targets, start, fps, limits, found)
    if len(found) < len(times):
        raise DecodeError("the video stream has no decodable frames (corrupt or truncated)")
    return [found[i] for i in range(len(times))]


def _seek_and_pick(container: InputContainer, stream: VideoStream, targets: list[_Target], start: float,
                   fps: float, limits: Limits, found: dict[int, Image.Image]) -> None:  # fmt: skip
    """For each target, seek to the keyframe before it and decode forward to it."""
    assert stream.time_base is not None  # set on every demuxed stream
    # In frames too: x264's default keyframe interval is 250 frames, 25 s at 10 fps.
    budget = max(SEQUENTIAL_MAX_FRAMES, math.ceil(SEEK_BUDGET_SECONDS * fps))
    for target in targets:
        container.seek(int((target.time + start) / stream.time_base), stream=stream, backward=True)
        stream.codec_context.flush_buffers()  # drop frames the decoder buffered before the seek
        _pick(_timed(container.decode(stream), start, fps, limits), [target], budget, found)
