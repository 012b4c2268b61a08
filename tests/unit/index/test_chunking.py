"""Chunking: text slices within the token budget, PDF windows and pages, long audio as WAV segments.

How segments are planned and cut is tested in ``tests/unit/media/test_segments.py``."""

from __future__ import annotations

import io
import itertools
import wave
from pathlib import Path

import numpy as np
import pytest

from omnivec import Embedder
from omnivec.errors import InvalidInput
from omnivec.evaluation import synth
from omnivec.index.chunking import (
    ChunkingPolicy,
    ModelTokenizer,
    PlannedChunk,
    WordTokenizer,
    built_text,
    plan_audio,
    plan_pdf,
    plan_text,
    token_windows,
    tokenizer_for,
)
from omnivec.limits import DEFAULT_LIMITS, Limits
from omnivec.media.audio import decode_audio
from omnivec.media.audio import encode_wav as wav_bytes
from omnivec.media.pdf import count_pdf_pages, extract_pdf_pages, read_pdf

from .conftest import long_text


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
        ChunkingPolicy(segment_seconds=85.0).check(DEFAULT_LIMITS)


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
    assert [c.seconds for c in chunks] == [(0.0, 52.5), (42.5, 95.0)]  # equal, overlapping by 10 s
    second = decode_audio(chunks[1].parts[0].data or b"", 80.0)
    assert np.abs(second - samples[round(42.5 * rate) :]).max() < 1e-3


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
    assert count_pdf_pages(extract_pdf_pages(two, range(1, 2))) == 1


def test_pdf_over_the_byte_limit_is_windowed(tmp_path: Path) -> None:
    data = synth.make_pdf(["Alpha.", "Beta."], tmp_path / "ab.pdf").read_bytes()
    tight = Limits(max_request_bytes=len(data) - 1)
    assert [c.kind for c in plan_pdf(data, ChunkingPolicy(), tight)] == ["pdf_window", "pdf_page", "pdf_page"]


def test_built_text_joins_what_the_model_read_without_repeats() -> None:
    chunk = PlannedChunk("whole", "whole", ())
    meta = {"parts": [{"transcript": "hello there", "ocr_text": ["EXIT", "EXIT", ""]}]}
    assert built_text(chunk, meta) == "hello there\n\nEXIT"
    assert built_text(chunk, {"parts": [{"page_text": ["p1 ", "p2"]}]}) == "p1\n\np2"
