"""Chunking: windows, text slices within the token budget, WAV segments, PDF subsets, video proxies."""

from __future__ import annotations

import io
import itertools
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omnivec import Embedder
from omnivec.errors import InvalidInput
from omnivec.evaluation import synth
from omnivec.index.chunking import (
    ChunkingPolicy,
    ModelTokenizer,
    PlannedChunk,
    WordTokenizer,
    built_text,
    pdf_subset,
    plan_audio,
    plan_pdf,
    plan_text,
    segment_windows,
    token_windows,
    tokenizer_for,
    video_proxy,
)
from omnivec.limits import DEFAULT_LIMITS, Limits
from omnivec.media.audio import decode_audio
from omnivec.media.audio import encode_wav as wav_bytes
from omnivec.media.pdf import count_pdf_pages, read_pdf
from omnivec.media.video import probe_video, sample_frames

from .conftest import long_text


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (30.0, [(0.0, 30.0)]),
        (60.0, [(0.0, 60.0)]),
        (100.0, [(0.0, 60.0), (50.0, 100.0)]),
        (112.0, [(0.0, 60.0), (50.0, 112.0)]),  # a tail of <= 10 s joins the last window
        (130.0, [(0.0, 60.0), (50.0, 110.0), (100.0, 130.0)]),
    ],
)
def test_segment_windows(total: float, expected: list[tuple[float, float]]) -> None:
    assert segment_windows(total, 60.0, 10.0) == expected


def test_segment_windows_stay_under_the_limits_for_any_length() -> None:
    policy = ChunkingPolicy()
    for total in np.arange(61.0, 2000.0, 7.3):
        windows = segment_windows(float(total), policy.segment_seconds, policy.segment_overlap_seconds)
        assert windows[0][0] == 0.0 and windows[-1][1] == pytest.approx(total, abs=1e-3)
        assert all(e - s <= 70.0 + 1e-6 for s, e in windows)
        assert all(b[0] < a[1] for a, b in itertools.pairwise(windows))  # overlap, no gap


def test_token_windows_cover_everything_and_overlap() -> None:
    spans = [(i * 2, i * 2 + 1) for i in range(1000)]  # one-character words
    windows = token_windows(spans, 100, 10)
    assert windows[0][0] == 0 and windows[-1][1] == 1000
    assert all(e - s <= 100 for s, e in windows)
    assert all(b[0] == a[1] - 10 for a, b in itertools.pairwise(windows))
    assert token_windows(spans[:50], 100, 10) == [(0, 50)]


def test_token_windows_do_not_cut_inside_a_word() -> None:
    # Words of three pieces each ("abc abc ..."): pieces of a word touch, words have a gap.
    spans = [(4 * (i // 3) + i % 3, 4 * (i // 3) + i % 3 + 1) for i in range(300)]
    windows = token_windows(spans, 50, 5)
    assert all(start % 3 == 0 for start, _ in windows)
    assert all(end % 3 == 0 for _, end in windows)


@pytest.fixture(scope="module")
def tokenizer(lite: Embedder) -> ModelTokenizer:
    found = tokenizer_for(lite.model)
    assert isinstance(found, ModelTokenizer)
    return found


def test_text_windows_are_exact_slices_within_the_token_limit(
    tokenizer: ModelTokenizer, lite: Embedder
) -> None:
    text = long_text()
    policy = ChunkingPolicy()
    chunks = plan_text(text, policy, tokenizer)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.chars is not None and text[chunk.chars[0] : chunk.chars[1]] == chunk.text
        assert chunk.parts[0].text == chunk.text
    counts = [len(ids) for ids in lite.model.text_encoder.tokenize([c.text for c in chunks])]
    assert max(counts) <= policy.text_window_tokens
    covered = set().union(*(range(*c.chars) for c in chunks if c.chars))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_short_text_is_one_whole_chunk_and_empty_text_is_refused(tokenizer: ModelTokenizer) -> None:
    [chunk] = plan_text("A short note.", ChunkingPolicy(), tokenizer)
    assert (chunk.kind, chunk.locator, chunk.chars) == ("whole", "whole", (0, 13))
    with pytest.raises(InvalidInput, match="no text"):
        plan_text(" \n\t", ChunkingPolicy(), tokenizer)


def test_word_tokenizer_fallback_budgets_two_pieces_per_word() -> None:
    text = " ".join(f"word{i}" for i in range(1000))
    chunks = plan_text(text, ChunkingPolicy(text_window_tokens=100, text_overlap_tokens=10), WordTokenizer())
    assert all(len(c.text.split()) <= 50 for c in chunks)


def test_policy_outside_the_limits_is_refused() -> None:
    ChunkingPolicy().check(DEFAULT_LIMITS)
    with pytest.raises(InvalidInput, match="pdf_window_pages"):
        ChunkingPolicy(pdf_window_pages=7).check(DEFAULT_LIMITS)
    with pytest.raises(InvalidInput, match="segment_seconds"):
        ChunkingPolicy(segment_seconds=75.0).check(DEFAULT_LIMITS)


def test_wav_bytes_round_trip() -> None:
    samples = (0.5 * np.sin(np.linspace(0, 200 * np.pi, 32000))).astype(np.float32)
    data = wav_bytes(samples)
    with wave.open(io.BytesIO(data)) as f:
        assert (f.getframerate(), f.getnchannels(), f.getnframes()) == (16000, 1, 32000)
    assert np.abs(decode_audio(data, 5.0) - samples).max() < 1e-3


def test_long_audio_segments_decode_to_the_right_samples(tmp_path: Path) -> None:
    rate = 16000
    t = np.arange(95 * rate) / rate
    samples = (0.2 * np.sin(2 * np.pi * 220 * t) * (t % 10 < 5)).astype(np.float32)  # 5 s on, 5 s off
    data = wav_bytes(samples)
    chunks = plan_audio(data, "audio/wav", ChunkingPolicy(), DEFAULT_LIMITS)
    assert [c.seconds for c in chunks] == [(0.0, 60.0), (50.0, 95.0)]
    second = decode_audio(chunks[1].parts[0].data or b"", 80.0)
    assert np.abs(second - samples[50 * rate :]).max() < 1e-3


def test_audio_within_the_limit_is_one_chunk_of_the_original_bytes(speech_wav: Path) -> None:
    data = speech_wav.read_bytes()
    [chunk] = plan_audio(data, "audio/wav", ChunkingPolicy(), DEFAULT_LIMITS)
    assert chunk.kind == "whole" and chunk.parts[0].data == data and chunk.seconds is not None


def test_pdf_windows_and_pages(tmp_path: Path) -> None:
    pdf = synth.make_pdf(
        [f"Page number {i + 1} is about topic {i + 1}." for i in range(8)], tmp_path / "p.pdf"
    )
    data = pdf.read_bytes()
    chunks = plan_pdf(data, ChunkingPolicy(), DEFAULT_LIMITS)
    assert [(c.kind, c.pages) for c in chunks if c.kind == "pdf_window"] == [
        ("pdf_window", (1, 6)),
        ("pdf_window", (7, 8)),
    ]
    assert [c.pages for c in chunks if c.kind == "pdf_page"] == [(i, i) for i in range(1, 9)]
    for chunk in chunks:
        assert chunk.pages is not None
        sub = chunk.parts[0].data or b""
        first, last = chunk.pages
        assert count_pdf_pages(sub) == last - first + 1
        texts = [p.text for p in read_pdf(sub, DEFAULT_LIMITS, render=False)]
        assert f"Page number {first} " in texts[0] and f"Page number {last} " in texts[-1]


def test_short_pdf_is_whole_plus_pages_and_a_single_page_is_just_whole(tmp_path: Path) -> None:
    two = synth.make_pdf(["One.", "Two."], tmp_path / "two.pdf").read_bytes()
    assert [(c.kind, c.pages) for c in plan_pdf(two, ChunkingPolicy(), DEFAULT_LIMITS)] == [
        ("whole", (1, 2)), ("pdf_page", (1, 1)), ("pdf_page", (2, 2)),
    ]  # fmt: skip
    one = synth.make_pdf(["One."], tmp_path / "one.pdf").read_bytes()
    assert [c.kind for c in plan_pdf(one, ChunkingPolicy(), DEFAULT_LIMITS)] == ["whole"]
    assert count_pdf_pages(pdf_subset(two, range(1, 2))) == 1


def test_pdf_over_the_byte_limit_is_windowed(tmp_path: Path) -> None:
    data = synth.make_pdf(["Alpha.", "Beta."], tmp_path / "ab.pdf").read_bytes()
    tight = Limits(max_request_bytes=len(data) - 1)
    assert [c.kind for c in plan_pdf(data, ChunkingPolicy(), tight)] == ["pdf_window", "pdf_page", "pdf_page"]


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


def test_built_text_joins_what_the_model_read_without_repeats() -> None:
    chunk = PlannedChunk("whole", "whole", ())
    meta = {"parts": [{"transcript": "hello there", "ocr_text": ["EXIT", "EXIT", ""]}]}
    assert built_text(chunk, meta) == "hello there\n\nEXIT"
    assert built_text(chunk, {"parts": [{"page_text": ["p1 ", "p2"]}]}) == "p1\n\np2"
