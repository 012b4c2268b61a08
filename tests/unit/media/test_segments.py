"""Segments of long audio and video: the span planner, WAV cuts and proxy videos (real decoders)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from PIL import Image

from omnivec.errors import InvalidInput, LimitExceeded
from omnivec.evaluation import synth
from omnivec.limits import DEFAULT_LIMITS
from omnivec.media.audio import decode_audio, encode_wav
from omnivec.media.segments import (
    SAMPLE_RATE,
    SegmentPolicy,
    frame_times,
    plan_spans,
    segment_audio,
    segment_video,
    video_proxy,
)
from omnivec.media.video import probe_video, sample_frames

LEVELS = (0, 85, 170, 255)  # red level of each 3 s slide of the test video


@pytest.mark.parametrize(
    ("total", "seconds", "overlap", "expected"),
    [
        (30.0, 60.0, 10.0, [(0.0, 30.0)]),
        (60.0, 60.0, 10.0, [(0.0, 60.0)]),
        (100.0, 60.0, 10.0, [(0.0, 55.0), (45.0, 100.0)]),
        (130.0, 60.0, 10.0, [(0.0, 50.0), (40.0, 90.0), (80.0, 130.0)]),
        (90.0, 30.0, 0.0, [(0.0, 30.0), (30.0, 60.0), (60.0, 90.0)]),
        (61.0, 30.0, 0.0, [(0.0, 61 / 3), (61 / 3, 122 / 3), (122 / 3, 61.0)]),  # no 1 s sliver at the end
    ],
)
def test_plan_spans(
    total: float, seconds: float, overlap: float, expected: list[tuple[float, float]]
) -> None:
    spans = plan_spans(total, seconds, overlap)
    assert [s for span in spans for s in span] == pytest.approx([s for span in expected for s in span])


@pytest.mark.parametrize(("seconds", "overlap"), [(30.0, 0.0), (60.0, 10.0), (20.0, 19.0)])
def test_spans_are_the_fewest_equal_ones_that_cover_any_length(seconds: float, overlap: float) -> None:
    for total in np.arange(0.5, 2000.0, 7.3):
        spans = plan_spans(float(total), seconds, overlap)
        assert spans[0][0] == 0.0 and spans[-1][1] == total
        assert all(e - s <= seconds + 1e-9 for s, e in spans)
        assert all(a[1] - b[0] == pytest.approx(overlap) for a, b in itertools.pairwise(spans))
        fewest = max(1, math.ceil((total - overlap) / (seconds - overlap) - 1e-9))
        assert len(spans) == fewest


def test_bad_policies_are_refused() -> None:
    for seconds, overlap in [(0.0, 0.0), (30.0, 30.0), (30.0, -1.0)]:
        with pytest.raises(InvalidInput, match="overlap"):
            plan_spans(100.0, seconds, overlap)
    with pytest.raises(InvalidInput, match="max_frames"):
        SegmentPolicy(max_frames=0)


def test_frame_times_are_slice_centres_capped_by_max_frames() -> None:
    policy = SegmentPolicy(seconds=30.0, frame_seconds=4.0, max_frames=4)
    assert frame_times(10.0, 18.0, policy) == [12.0, 16.0]
    assert frame_times(0.0, 30.0, policy) == [3.75, 11.25, 18.75, 26.25]
    assert frame_times(0.0, 1.0, policy) == [0.5]


def test_audio_segments_are_exact_wav_cuts_of_the_decoded_samples() -> None:
    t = np.arange(95 * SAMPLE_RATE) / SAMPLE_RATE
    samples = (0.2 * np.sin(2 * np.pi * 220 * t) * (t % 10 < 5)).astype(np.float32)  # 5 s on, 5 s off
    data = encode_wav(samples)
    segments = segment_audio(data, SegmentPolicy(seconds=40.0, overlap_seconds=5.0))
    assert [(s.start, s.end, s.mime) for s in segments] == [
        (0.0, 35.0, "audio/wav"), (30.0, 65.0, "audio/wav"), (60.0, 95.0, "audio/wav"),
    ]  # fmt: skip
    for segment in segments:
        cut = samples[round(segment.start * SAMPLE_RATE) : round(segment.end * SAMPLE_RATE)]
        assert np.abs(decode_audio(segment.data, 40.0) - cut).max() < 1e-3
    with pytest.raises(
        LimitExceeded, match=r"audio is 95\.0 s; the longest audio accepted for segmenting is 90 s"
    ):
        segment_audio(data, SegmentPolicy(), max_seconds=90.0)


@pytest.fixture(scope="module")
def slideshow(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """12 s at 4 fps with a tone: four solid slides, red level 0, 85, 170, 255, 3 s each."""
    folder = tmp_path_factory.mktemp("slideshow")
    t = np.arange(12 * SAMPLE_RATE) / SAMPLE_RATE
    tone = folder / "tone.wav"
    tone.write_bytes(encode_wav((0.3 * np.sin(2 * np.pi * 330 * t) * (t % 2 < 1)).astype(np.float32)))
    frames = [Image.new("RGB", (64, 48), (level, 0, 0)) for level in LEVELS]
    return synth.make_video(frames, folder / "slides.mp4", seconds=12.0, fps=4, audio_wav=tone).read_bytes()


def _red(image: Image.Image) -> float:
    return float(np.asarray(image)[..., 0].mean())


def test_video_segments_are_proxies_of_their_frames_and_audio(slideshow: bytes) -> None:
    policy = SegmentPolicy(seconds=7.0, overlap_seconds=2.0, frame_seconds=2.5, max_frames=4)
    segments = segment_video(slideshow, policy, DEFAULT_LIMITS)
    assert [(s.start, s.end) for s in segments] == [(0.0, 7.0), (5.0, 12.0)]
    track = decode_audio(slideshow, 13.0)
    for segment in segments:
        info = probe_video(segment.data, DEFAULT_LIMITS)
        assert segment.mime == "video/quicktime" and info.has_audio
        assert info.seconds == pytest.approx(segment.end - segment.start, abs=0.05)
        times = frame_times(segment.start, segment.end, policy)
        held = sample_frames(segment.data, [t - segment.start for t in times], DEFAULT_LIMITS)
        source = sample_frames(slideshow, times, DEFAULT_LIMITS)
        assert [round(_red(f)) for f in held] == [round(_red(f)) for f in source]  # lossless PNG frames
        audio = decode_audio(segment.data, 8.0)
        cut = track[round(segment.start * SAMPLE_RATE) : round(segment.end * SAMPLE_RATE)]
        assert audio.size == pytest.approx(cut.size, abs=SAMPLE_RATE // 100)
        n = min(audio.size, cut.size)
        assert np.abs(audio[:n] - cut[:n]).max() < 1e-3
    assert [round(_red(f)) for f in sample_frames(segments[1].data, [0.5], DEFAULT_LIMITS)] == [170]  # 5.9 s


def test_video_segments_without_audio_and_over_the_limit(slideshow: bytes) -> None:
    silent = segment_video(slideshow, SegmentPolicy(seconds=6.0), DEFAULT_LIMITS, with_audio=False)
    assert len(silent) == 2 and not any(probe_video(s.data, DEFAULT_LIMITS).has_audio for s in silent)
    with pytest.raises(
        LimitExceeded, match=r"video is 12\.0 s; the longest video accepted for segmenting is 10 s"
    ):
        segment_video(slideshow, SegmentPolicy(), DEFAULT_LIMITS, max_seconds=10.0)


def test_video_proxy_holds_each_frame_for_its_share_and_keeps_the_audio(
    photos: dict[str, Image.Image],
) -> None:
    frames = [photos["chelsea"], photos["rocket"], photos["coffee"]]
    audio = (0.1 * np.sin(np.linspace(0, 4000 * np.pi, 16000 * 30))).astype(np.float32)
    data = video_proxy(frames, 30.0, audio)
    info = probe_video(data, DEFAULT_LIMITS)
    assert info.seconds == pytest.approx(30.0, abs=0.1) and info.has_audio
    first, middle, last = sample_frames(
        data, [1.0, 11.0, 21.0], DEFAULT_LIMITS
    )  # frames start at 0, 10, 20 s
    for got, want in zip((first, middle, last), frames, strict=True):
        assert np.array_equal(np.asarray(got), np.asarray(want.convert("RGB").resize(frames[0].size)))
    assert np.abs(decode_audio(data, 31.0) - audio).max() < 1e-3
    silent = video_proxy(frames[:1], 12.5, np.zeros(0, np.float32))
    assert not probe_video(silent, DEFAULT_LIMITS).has_audio
