"""probe_video / sample_frames on real MP4, MOV and WebM slideshows, long clips and bad input."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from omnivec.errors import DecodeError, LimitExceeded, UnsupportedMedia
from omnivec.evaluation import synth
from omnivec.limits import DEFAULT_LIMITS
from omnivec.media.video import VideoInfo, probe_video, sample_frames

VIDEO_FIXTURES = ["video_mp4", "video_mov", "video_webm"]


def _diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b.resize(a.size), np.float32)).mean())


def _red(image: Image.Image) -> float:
    return float(np.asarray(image)[..., 0].mean())


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """100 s at 10 fps, 64x48: ten solid frames whose red level is 0, 28, ... 255, 10 s each."""
    frames = [Image.new("RGB", (64, 48), (round(i * 255 / 9), 0, 0)) for i in range(10)]
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    return synth.make_video(frames, path, seconds=100, fps=10).read_bytes()


def _webm_without_duration() -> bytes:
    """A WebM as browsers' MediaRecorder writes it (live mode): no duration in any header."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm", container_options={"live": "1"}) as out:
        stream = out.add_stream("libvpx", rate=4)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(40):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 6, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


@pytest.mark.parametrize("fixture", VIDEO_FIXTURES)
def test_probe_reads_the_headers(fixture: str, request: pytest.FixtureRequest) -> None:
    info = probe_video(request.getfixturevalue(fixture).read_bytes(), DEFAULT_LIMITS)
    assert info.seconds == pytest.approx(3.0, abs=0.05)
    assert (info.width, info.height, info.fps, info.has_audio) == (450, 300, 4.0, True)


def test_probe_of_a_silent_video(video_silent_mp4: Path) -> None:
    assert probe_video(video_silent_mp4.read_bytes(), DEFAULT_LIMITS) == VideoInfo(2.0, 450, 300, 4.0, False)


@pytest.mark.parametrize("fixture", VIDEO_FIXTURES)
def test_sampled_frames_show_the_right_photo(
    fixture: str, photos: dict[str, Image.Image], request: pytest.FixtureRequest
) -> None:
    # The slideshow shows chelsea, coffee, rocket for one second each; times are deliberately unsorted.
    frames = sample_frames(request.getfixturevalue(fixture).read_bytes(), [2.5, 0.5, 1.5], DEFAULT_LIMITS)
    assert [f.size for f in frames] == [(450, 300)] * 3
    assert all(f.mode == "RGB" for f in frames)
    for frame, name in zip(frames, ["rocket", "chelsea", "coffee"], strict=True):
        others = [_diff(frame, photos[n]) for n in ("chelsea", "coffee", "rocket") if n != name]
        assert _diff(frame, photos[name]) < 12 < min(others)


def test_times_past_the_end_give_the_last_frame(video_mp4: Path) -> None:
    last, beyond = sample_frames(video_mp4.read_bytes(), [2.9, 60.0], DEFAULT_LIMITS)
    assert _diff(last, beyond) == 0.0


def test_no_times_no_frames(video_mp4: Path) -> None:
    assert sample_frames(video_mp4.read_bytes(), [], DEFAULT_LIMITS) == []


def test_long_video_is_sampled_by_seeking(long_video: bytes) -> None:
    info = probe_video(long_video, DEFAULT_LIMITS)
    assert info.seconds == pytest.approx(100.0)
    frames = sample_frames(long_video, [95.0, 5.0, 55.0, 99.9], DEFAULT_LIMITS)
    assert [round(_red(f) / 28.3) for f in frames] == [9, 0, 5, 9]  # segment index of each time


def test_duration_is_estimated_when_no_header_declares_it() -> None:
    data = _webm_without_duration()
    container = av.open(io.BytesIO(data))
    assert container.duration is None and container.streams.video[0].duration is None
    container.close()
    info = probe_video(data, DEFAULT_LIMITS)
    assert info.seconds == pytest.approx(10.0)
    assert [round(_red(f) / 24) for f in sample_frames(data, [0.0, 5.0, 9.9], DEFAULT_LIMITS)] == [0, 5, 10]


def test_frame_size_over_the_limit_is_refused_before_decoding(video_mp4: Path) -> None:
    small = replace(DEFAULT_LIMITS, max_image_pixels=10_000)
    with pytest.raises(LimitExceeded, match="450x300"):
        probe_video(video_mp4.read_bytes(), small)
    with pytest.raises(LimitExceeded, match="450x300"):
        sample_frames(video_mp4.read_bytes(), [1.0], small)


def test_absurd_frame_rate_is_refused(video_mp4: Path) -> None:
    with pytest.raises(LimitExceeded, match="4 frames per second; the limit is 2 fps"):
        probe_video(video_mp4.read_bytes(), replace(DEFAULT_LIMITS, max_video_fps=2.0))


def test_truncated_mp4_is_a_decode_error(video_mp4: Path) -> None:
    data = video_mp4.read_bytes()
    with pytest.raises(DecodeError, match="cannot decode video"):
        probe_video(data[: len(data) // 2], DEFAULT_LIMITS)  # the moov atom is at the end
    with pytest.raises(DecodeError):
        sample_frames(data[: len(data) // 2], [1.0], DEFAULT_LIMITS)


def test_audio_only_file_has_no_video_stream(speech_ogg: Path) -> None:
    with pytest.raises(DecodeError, match="no video stream"):
        probe_video(speech_ogg.read_bytes(), DEFAULT_LIMITS)


def test_non_video_bytes_are_unsupported(text_pdf: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="a PDF document"):
        probe_video(text_pdf.read_bytes(), DEFAULT_LIMITS)
