"""Opening audio and video containers from bytes with PyAV, and reading how long they are.

The demuxer is chosen from the sniffed type, never by FFmpeg's own probing: probing accepts
dozens of formats, some of which (HLS playlists, concat lists) open further files or URLs.
Durations come from the stream, then the container header, and only when both are missing
from demuxing packets (cheap: no decoding), stopped at a cap. FFmpeg errors become
:class:`~omnivec.errors.DecodeError` with FFmpeg's reason.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager

import av
from av.container import InputContainer
from av.stream import Stream

from omnivec.errors import DecodeError, UnsupportedMedia
from omnivec.media.sniff import DESCRIPTIONS, sniff_mime

# Sniffed MIME type -> FFmpeg demuxer.
DEMUXERS: dict[str, str] = {
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/webm": "matroska",
}


def _reason(exc: av.FFmpegError) -> str:
    return str(getattr(exc, "strerror", None) or exc)


@contextmanager
def ffmpeg_errors(what: str) -> Iterator[None]:
    """Turn FFmpeg failures inside the block into DecodeError naming ``what`` was being read."""
    try:
        yield
    except av.FFmpegError as exc:
        raise DecodeError(f"cannot decode {what}: {_reason(exc)} (corrupt or truncated?)") from exc


def open_container(data: bytes, what: str) -> tuple[InputContainer, str]:
    """Open ``data`` with the demuxer its magic bytes call for; return the container and MIME.

    Raises:
        DecodeError: empty or undecodable bytes.
        UnsupportedMedia: the bytes are not an audio or video container omnivec reads.
    """
    if not data:
        raise DecodeError(f"{what} is empty (0 bytes)")
    mime = sniff_mime(data)
    demuxer = DEMUXERS.get(mime or "")
    if mime is None or demuxer is None:
        found = f"{DESCRIPTIONS[mime]} ({mime})" if mime else "no known type"
        raise UnsupportedMedia(
            f"{what} must be WAV, MP3, FLAC, Ogg, MP4, QuickTime or WebM; the bytes are {found}"
        )
    with ffmpeg_errors(f"{what} ({DESCRIPTIONS[mime]})"):
        container = av.open(io.BytesIO(data), mode="r", format=demuxer, metadata_errors="ignore")
    return container, mime


def declared_seconds(container: InputContainer, stream: Stream) -> float | None:
    """Duration the stream or, failing that, the container header declares; None if neither."""
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def demuxed_seconds(container: InputContainer, stream: Stream, cap: float = math.inf) -> float:
    """Estimate a stream's duration from packet timestamps without decoding.

    Stops as soon as the estimate passes ``cap``, so the work is bounded for long inputs; the
    container is left at the point where demuxing stopped.
    """
    start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    end = start
    for packet in container.demux(stream):
        if packet.pts is None or packet.time_base is None:
            continue  # the flush packet at the end, or a packet without timing
        end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        if end - start > cap:
            break
    return end - start


def stream_seconds(container: InputContainer, stream: Stream, cap: float = math.inf) -> float:
    """The declared duration, or the demuxed estimate (capped) when nothing is declared."""
    declared = declared_seconds(container, stream)
    return declared if declared is not None else demuxed_seconds(container, stream, cap)
