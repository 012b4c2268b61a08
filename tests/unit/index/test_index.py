"""The Index on a real mixed corpus, on both backends: what was stored, and what search finds."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from omnivec import Embedder, Embeddings, ModelMismatch
from omnivec.errors import InvalidInput, NotFound
from omnivec.index import Index, IngestReport
from omnivec.index.store import IDENTITY_FILE

from .conftest import ASTRONAUT, INVOICE, LIGHTHOUSE, ORCHIDS, PDF_PAGES, SUBMARINE, TRAIN

Built = tuple[Index, IngestReport]
INDEXED = {"cat.jpg", "rocket.png", "invoice.png", "train.wav", "garden.md", "manual.txt", "atlas.pdf",
           "voicemail.wav", "space.mp4", "long.mp4"}  # fmt: skip


def _flat(text: str) -> str:
    return " ".join(text.split())


def _chunks(index: Index, name: str) -> list:  # type: ignore[type-arg]
    return sorted(
        (c for c in index.store.list_chunks() if Path(c.source).name == name), key=lambda c: c.locator
    )


def test_ingest_report_counts_every_file_and_records_the_broken_one(built: Built) -> None:
    index, report = built
    assert report.added == len(INDEXED) and report.updated == report.skipped == report.removed == 0
    assert [(Path(e.source).name, e.error) for e in report.errors] == [("broken.png", "DecodeError")]
    assert {Path(s).name for s in index.store.list_files()} == INDEXED
    assert report.chunks == index.store.count_chunks()
    assert all(r.state == "complete" for r in index.store.list_files().values())


def test_every_chunk_records_its_model_hash_and_unique_id(built: Built) -> None:
    index, _ = built
    chunks = index.store.list_chunks()
    assert len({c.id for c in chunks}) == len(chunks)
    files = index.store.list_files()
    for chunk in chunks:
        assert (chunk.model, chunk.version, chunk.dim) == ("lite", index.identity.version, 384)
        assert chunk.content_hash == files[chunk.source].content_hash
        assert chunk.mtime == pytest.approx(Path(chunk.source).stat().st_mtime)
    assert {r.source: r.chunks for r in files.values()} == {
        s: sum(c.source == s for c in chunks) for s in files
    }


def test_nine_page_pdf_has_two_windows_and_nine_pages(built: Built) -> None:
    index, _ = built
    chunks = _chunks(index, "atlas.pdf")
    windows = sorted((c.pages for c in chunks if c.kind == "pdf_window"), key=str)
    pages = sorted(c.pages for c in chunks if c.kind == "pdf_page")  # type: ignore[type-var]
    assert windows == [(1, 6), (7, 9)]
    assert pages == [(p, p) for p in range(1, 10)]
    page7 = next(c for c in chunks if c.locator == "page:7")
    assert "Jupiter is the largest planet" in _flat(page7.text)
    window2 = _flat(next(c for c in chunks if c.locator == "pages:7-9").text)
    assert all(_flat(p) in window2 for p in PDF_PAGES[6:])
    assert PDF_PAGES[5] not in window2


def test_100_second_audio_is_two_overlapping_segments_with_their_transcripts(built: Built) -> None:
    index, _ = built
    chunks = _chunks(index, "voicemail.wav")
    assert [(c.kind, c.seconds) for c in chunks] == [
        ("audio_segment", (0.0, 55.0)),
        ("audio_segment", (45.0, 100.0)),
    ]
    first, second = chunks
    assert "orchid" in first.text.lower() and "submarine" not in first.text.lower()
    assert "submarine" in second.text.lower() and "orchid" not in second.text.lower()


def test_100_second_video_with_audio_is_segmented_with_its_speech(built: Built) -> None:
    index, _ = built
    chunks = _chunks(index, "long.mp4")
    assert [(c.kind, c.seconds) for c in chunks] == [
        ("video_segment", (0.0, 55.0)),
        ("video_segment", (45.0, 100.0)),
    ]
    assert "submarine" in chunks[1].text.lower()


def test_long_text_is_windowed_into_exact_slices(built: Built) -> None:
    index, _ = built
    chunks = sorted(_chunks(index, "manual.txt"), key=lambda c: c.chars)
    text = next(iter(Path(c.source) for c in chunks)).read_text()
    assert len(chunks) > 3 and all(c.kind == "text_window" for c in chunks)
    assert all(text[c.chars[0] : c.chars[1]] == c.text for c in chunks if c.chars)
    assert all(a.chars[1] > b.chars[0] for a, b in itertools.pairwise(chunks))  # type: ignore[index]
    assert chunks[0].chars[0] == 0 and chunks[-1].chars[1] == len(text.rstrip())  # type: ignore[index]


@pytest.mark.parametrize(
    ("query", "name", "where"),
    [
        ("a cat", "cat.jpg", ""),
        ("when does the train to Boston leave", "train.wav", ""),
        (INVOICE.replace("The ", "what is the "), "invoice.png", ""),
        ("Which planet is the largest in the solar system?", "atlas.pdf", "p. 7"),
        ("watering tomatoes in the sun", "garden.md", ""),
        ("the lighthouse keeper polished the lens", "manual.txt", None),
        ("an astronaut floating in space", "space.mp4", ""),
        ("watering the orchids on Sunday", "voicemail.wav", "0:00-0:55"),
    ],
)
def test_text_search_finds_the_right_file(built: Built, query: str, name: str, where: str | None) -> None:
    index, _ = built
    top = index.search(query, k=3)[0]
    assert Path(top.source).name == name, [(h.source, h.score) for h in index.search(query, k=3)]
    if where is not None:
        assert top.where() == where
    if name == "manual.txt":
        assert LIGHTHOUSE[0] in top.chunk.text


def test_filters_by_modality_and_path_glob(built: Built) -> None:
    index, _ = built
    audio = index.search(SUBMARINE, k=5, modalities=["audio"])
    assert {h.modality for h in audio} == {"audio"}
    assert (Path(audio[0].source).name, audio[0].seconds) == ("voicemail.wav", (45.0, 100.0))
    video = index.search(SUBMARINE, k=1, modalities=["video"])[0]
    assert (Path(video.source).name, video.seconds) == ("long.mp4", (45.0, 100.0))
    only_notes = index.search("anything at all", k=20, path_glob="notes/*")
    assert only_notes and {Path(h.source).parent.name for h in only_notes} == {"notes"}
    assert index.search("anything", k=5, path_glob="*.nothing") == []
    with pytest.raises(InvalidInput, match="unknown modality"):
        index.search("x", modalities=["smell"])


def test_search_by_example_file(built: Built, corpus: Path) -> None:
    index, _ = built
    hits = index.search(corpus / "cat.jpg", k=1)
    assert Path(hits[0].source).name == "cat.jpg" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert Path(index.search(corpus / "train.wav", k=1)[0].source).name == "train.wav"


def test_two_stage_matches_exact_search(built: Built) -> None:
    index, _ = built
    for query in (TRAIN, ASTRONAUT, ORCHIDS, "a cat"):
        fast = index.search(query, k=5)
        slow = index.search(query, k=5, exact_search=True)
        assert [h.chunk.id for h in fast] == [h.chunk.id for h in slow]
        assert [h.score for h in fast] == pytest.approx([h.score for h in slow], abs=1e-5)


def test_query_from_another_model_is_refused(built: Built) -> None:
    index, _ = built
    other = Embeddings(np.ones((1, 384), np.float32) / np.sqrt(384), "other-model", "1.0", 384, [{}])
    with pytest.raises(ModelMismatch, match="other-model"):
        index.search(other)


def test_opening_with_another_model_version_is_refused(built: Built, lite: Embedder, tmp_path: Path) -> None:
    index, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(index.folder, copy)
    identity = json.loads((copy / IDENTITY_FILE).read_text())
    (copy / IDENTITY_FILE).write_text(json.dumps({**identity, "version": "0.0.1+old"}))
    with pytest.raises(ModelMismatch, match=r"lite 0\.0\.1\+old"):
        Index.open(copy, lite)
    assert Index.open(copy).stats().files == len(INDEXED)  # no embedder: stats still work


def test_open_refuses_missing_index_and_wrong_backend(built: Built, tmp_path: Path) -> None:
    index, _ = built
    with pytest.raises(NotFound, match="no omnivec index"):
        Index.open(tmp_path / "nothing", create=False)
    other = "milvus" if index.identity.backend == "lancedb" else "lancedb"
    with pytest.raises(InvalidInput, match="backend"):
        Index.open(index.folder, backend=other)


def test_stats(built: Built) -> None:
    index, report = built
    stats = index.stats()
    assert stats.files == len(INDEXED) and stats.chunks == report.chunks
    assert stats.files_by_modality == {"image": 3, "audio": 2, "video": 2, "text": 2, "pdf": 1}
    assert sum(stats.chunks_by_modality.values()) == stats.chunks
    assert (stats.model, stats.dim, stats.prefix_dim, stats.backend) == (
        "lite",
        384,
        128,
        index.identity.backend,
    )
