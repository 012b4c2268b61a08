"""Incremental ingest on both backends: skip unchanged, replace changed, remove deleted, recover."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omnivec import Embedder
from omnivec.errors import NotFound
from omnivec.index import Index, IngestProgress
from omnivec.index.chunking import ChunkingPolicy
from omnivec.index.store import Chunk, chunk_id

BACKENDS = ["lancedb", "milvus"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def folder(tmp_path: Path, photos: dict[str, Image.Image]) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpacas are domesticated camelids from South America.")
    (docs / "b.md").write_text("# Bicycles\nA bicycle has two wheels and pedals.")
    (docs / "c.txt").write_text("Cumulus clouds are fluffy and white.")
    photos["coffee"].save(docs / "coffee.jpg", quality=85)
    return docs


def _snapshot(index: Index) -> dict[str, tuple[str, str]]:
    """chunk id -> (content hash, text): what must match between two ways of building an index."""
    return {c.id: (c.content_hash, c.text) for c in index.store.list_chunks()}


def test_unchanged_changed_and_deleted_files(
    folder: Path, lite: Embedder, tmp_path: Path, backend: str
) -> None:
    with Index.open(tmp_path / "idx", lite, backend=backend) as index:
        first = index.add([folder])
        assert (first.added, first.chunks, first.errors) == (4, 4, ())
        again = index.add([folder])
        assert (again.added, again.updated, again.skipped, again.chunks) == (0, 0, 4, 0)

        long = " ".join(f"Alpaca fact {i}: alpacas hum, spit rarely and live in herds." for i in range(80))
        (folder / "a.txt").write_text(long)  # grows from one chunk to several windows
        (folder / "c.txt").unlink()
        changed = index.add([folder])
        assert (changed.updated, changed.removed, changed.skipped) == (1, 1, 2)
        a_chunks = index.store.list_chunks([str(folder / "a.txt")])
        assert len(a_chunks) > 1 and {c.kind for c in a_chunks} == {"text_window"}
        assert {c.content_hash for c in a_chunks} == {
            index.store.list_files()[str(folder / "a.txt")].content_hash
        }
        assert index.store.list_chunks([str(folder / "c.txt")]) == []
        assert str(folder / "c.txt") not in index.store.list_files()
        hits = index.search("cumulus clouds", k=10)
        assert all(Path(h.source).name != "c.txt" for h in hits)


def test_removal_only_under_the_folders_given(
    folder: Path, lite: Embedder, tmp_path: Path, backend: str
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "d.txt").write_text("Dolphins sleep with one half of the brain at a time.")
    with Index.open(tmp_path / "idx", lite, backend=backend) as index:
        index.add([folder, other])
        (other / "d.txt").unlink()
        report = index.add([folder])  # `other` not given: its files are left alone
        assert report.removed == 0 and str(other / "d.txt") in index.store.list_files()
        report = index.add([other / "d.txt"])  # a vanished file named explicitly is removed
        assert report.removed == 1 and report.errors == ()
        assert index.delete([folder]) == 4
        assert index.stats().files == 0 and index.stats().chunks == 0
        with pytest.raises(NotFound):
            index.delete([folder])


def test_recovers_files_left_pending_by_a_crash(
    folder: Path, lite: Embedder, tmp_path: Path, backend: str
) -> None:
    with Index.open(tmp_path / "clean", lite, backend=backend) as clean:
        clean.add([folder])
        expected = _snapshot(clean)
    with Index.open(tmp_path / "idx", lite, backend=backend) as index:
        index.add([folder])
        # The state a crash between "pending" and "complete" leaves: a pending marker, and
        # chunks of the file that are not (all) the right ones.
        source = str(folder / "b.md")
        record = index.store.list_files()[source]
        index.store.put_files([replace(record, state="pending", content_hash="0" * 64)])
        stale = Chunk(chunk_id(source, "chars:0-5"), source, "text", "text_window", "chars:0-5", "stale", "0" * 64,
                      0.0, "lite", index.identity.version, 384, chars=(0, 5))  # fmt: skip
        vector = np.eye(1, 384, dtype=np.float32)
        index.store.add_chunks([stale], vector, vector[:, :128])
        report = index.add([folder])
        assert (report.added, report.skipped) == (1, 3)
        assert _snapshot(index) == expected


def test_errors_do_not_abort_and_a_file_that_turns_bad_leaves_the_index(
    folder: Path, lite: Embedder, tmp_path: Path, backend: str
) -> None:
    with Index.open(tmp_path / "idx", lite, backend=backend) as index:
        index.add([folder])
        (folder / "coffee.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
        (folder / "empty.txt").write_text("   \n")
        (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
        report = index.add([folder])
        failed = {Path(e.source).name: e.error for e in report.errors}
        assert failed == {
            "coffee.jpg": "DecodeError",
            "empty.txt": "InvalidInput",
            "latin1.txt": "UnsupportedMedia",
        }
        assert str(folder / "coffee.jpg") not in index.store.list_files()
        assert index.store.list_chunks([str(folder / "coffee.jpg")]) == []
        assert report.skipped == 3


def test_small_batches_and_policy_give_the_same_index(folder: Path, lite: Embedder, tmp_path: Path) -> None:
    with Index.open(tmp_path / "one", lite) as one, Index.open(tmp_path / "two", lite) as two:
        one.add([folder], batch_size=1)
        two.add([folder], batch_size=64)
        a, b = _snapshot(one), _snapshot(two)
        assert a == b
        assert (
            two.add([folder], policy=ChunkingPolicy(text_window_tokens=8, text_overlap_tokens=2)).skipped == 4
        )


def test_a_symlinked_file_is_indexed_under_its_own_name(folder: Path, lite: Embedder, tmp_path: Path) -> None:
    os.symlink(folder / "a.txt", folder / "link.txt")
    with Index.open(tmp_path / "idx", lite) as index:
        index.add([folder])
        assert str(folder / "link.txt") in index.store.list_files()


def test_progress_reports_files_and_chunks_to_the_end(folder: Path, lite: Embedder, tmp_path: Path) -> None:
    (folder / "bad.txt").write_bytes(b"\xff\xfe not utf-8")
    events: list[IngestProgress] = []
    with Index.open(tmp_path / "idx", lite) as index:
        report = index.add([folder], progress=events.append, batch_size=2)
    last = events[-1]
    assert (last.files_done, last.files_total) == (5, 5) and len(report.errors) == 1
    assert last.chunks_done == last.chunks_total == report.chunks == 4
    assert [e.chunks_done for e in events] == sorted(e.chunks_done for e in events)  # never goes back
