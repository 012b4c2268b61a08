"""Both VectorStore backends against the same tests, on synthetic vectors (no model needed)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from omnivec.errors import ModelMismatch
from omnivec.index.index import open_store
from omnivec.index.lancedb_store import READ_CONSISTENCY, AnnConfig, LanceStore
from omnivec.index.search import exact, match_sources, prefix_of, two_stage
from omnivec.index.store import (
    Chunk,
    FileRecord,
    Filters,
    IndexIdentity,
    VectorStore,
    chunk_id,
    clip_text,
    read_identity,
    write_identity,
)

DIM, PREFIX = 64, 16
WEIRD = '/data/it\'s a "quoted" \\ back\\slash, ünïcode — and\ttab.txt'


def identity(backend: str) -> IndexIdentity:
    return IndexIdentity("test-model", "1.0", DIM, PREFIX, backend)  # type: ignore[arg-type]


def matryoshka_vectors(n: int, seed: int = 0) -> np.ndarray:
    """(n, DIM) unit vectors whose variance decays along the dimensions, as after lite's rotation."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM)) * (1.0 + np.arange(DIM)) ** -0.7
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_chunk(i: int, source: str, modality: str = "text") -> Chunk:
    return Chunk(chunk_id(source, f"chars:{i}-{i + 1}"), source, modality, "text_window", f"chars:{i}-{i + 1}",
                 f"chunk {i} of {source}", "h" * 64, 1.5, "test-model", "1.0", DIM, chars=(i, i + 1))  # fmt: skip


@pytest.fixture(params=["lancedb", "milvus"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened = open_store(tmp_path / "idx", identity(request.param))
    yield opened
    opened.close()


def fill(store: VectorStore, n: int, sources: list[str], seed: int = 0) -> np.ndarray:
    vectors = matryoshka_vectors(n, seed)
    modalities = ["text", "image", "audio"]
    chunks = [make_chunk(i, sources[i % len(sources)], modalities[i % 3]) for i in range(n)]
    store.add_chunks(chunks, vectors, prefix_of(vectors, PREFIX))
    return vectors


def test_file_markers_upsert_list_delete(store: VectorStore) -> None:
    record = FileRecord(WEIRD, "a" * 64, 12.5, 100, "text", 3, "pending")
    store.put_files([record, replace(record, source="/data/b.txt")])
    store.put_files([replace(record, state="complete", chunks=4)])  # replaces, keyed by source
    files = store.list_files()
    assert set(files) == {WEIRD, "/data/b.txt"}
    assert files[WEIRD] == replace(record, state="complete", chunks=4)
    store.delete_files([WEIRD])
    assert set(store.list_files()) == {"/data/b.txt"}


def test_chunks_add_list_count_delete(store: VectorStore) -> None:
    fill(store, 30, [WEIRD, "/data/b.txt", "/data/c.txt"])
    assert store.count_chunks() == 30
    assert store.count_chunks(Filters(modalities=("image",))) == 10
    assert store.count_chunks(Filters(sources=(WEIRD,))) == 10
    listed = store.list_chunks([WEIRD])
    assert len(listed) == 10 and all(c.source == WEIRD for c in listed)
    assert listed[0] == make_chunk(
        int(listed[0].locator.split(":")[1].split("-")[0]), WEIRD, listed[0].modality
    )
    store.delete_chunks([WEIRD, "/data/c.txt"])
    assert store.count_chunks() == 10 and {c.source for c in store.list_chunks()} == {"/data/b.txt"}
    assert store.list_chunks([]) == [] and store.count_chunks(Filters(sources=())) == 0


def test_exact_search_ranks_by_dot_product_and_filters(store: VectorStore) -> None:
    sources = [WEIRD, "/data/b.txt"]
    vectors = fill(store, 200, sources)
    query = matryoshka_vectors(1, seed=9)[0]
    hits = exact(store, query, 10, Filters())
    truth = np.argsort(-(vectors @ query))[:10]
    assert [h.chunk.locator for h in hits] == [f"chars:{i}-{i + 1}" for i in truth]
    assert [h.score for h in hits] == pytest.approx(list((vectors @ query)[truth]), abs=1e-5)
    only = exact(store, query, 5, Filters(modalities=("audio",), sources=(WEIRD,)))
    assert only and all(h.modality == "audio" and h.source == WEIRD for h in only)
    assert exact(store, query, 5, Filters(sources=())) == []


def test_two_stage_recall_against_exact(store: VectorStore) -> None:
    vectors = fill(store, 3000, [f"/data/{i}.txt" for i in range(7)])
    queries = matryoshka_vectors(20, seed=5)
    recalls = []
    for query in queries:
        truth = set(np.argsort(-(vectors @ query))[:10])
        found = {
            int(h.chunk.locator.split(":")[1].split("-")[0]) for h in two_stage(store, query, 10, Filters())
        }
        recalls.append(len(truth & found) / 10)
    assert np.mean(recalls) >= 0.95


def test_lance_ann_index_is_built_when_large_retrained_when_doubled_and_keeps_recall(tmp_path: Path) -> None:
    store = LanceStore(
        tmp_path / "lance", identity("lancedb"), AnnConfig(min_rows=2000, rows_per_partition=500)
    )
    fill(store, 1500, ["/data/a.txt"])
    store.optimize()
    assert store.ann_index() is None  # small: exact scans
    more = matryoshka_vectors(3000, seed=1)
    chunks = [make_chunk(i, "/data/b.txt") for i in range(1500, 4500)]
    store.add_chunks(chunks, more, prefix_of(more, PREFIX))
    store.optimize()
    assert store.ann_index() == f"{AnnConfig().index_type} on prefix (trained on 4,500 rows)"
    vectors = np.concatenate([matryoshka_vectors(1500), more])
    queries = matryoshka_vectors(20, seed=3)
    recall = np.mean([
        len(set(np.argsort(-(vectors @ q))[:10]) & {int(h.chunk.locator[6:].split("-")[0]) for h in two_stage(store, q, 10, Filters())}) / 10
        for q in queries
    ])  # fmt: skip
    assert recall >= 0.9
    fill(store, 1000, ["/data/c.txt"], seed=2)
    store.optimize()
    assert "4,500 rows" in (store.ann_index() or "")  # 5,500 rows: not yet doubled
    fill(store, 4000, ["/data/d.txt"], seed=4)
    store.optimize()
    assert "9,500 rows" in (store.ann_index() or "")


def json_id(record: str) -> str:
    return str(json.loads(record)["id"])


def _hits(store: VectorStore, query: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
    return [(h.chunk.id, round(h.score, 5)) for h in two_stage(store, query, k, Filters())]


def _truth(vectors: np.ndarray, ids: list[str], query: np.ndarray, k: int = 10) -> list[tuple[str, float]]:
    scores = vectors @ query
    return [(ids[i], round(float(scores[i]), 5)) for i in np.argsort(-scores, kind="stable")[:k]]


def test_row_cache_serves_vectors_and_rows_added_since_come_from_the_table(tmp_path: Path) -> None:
    store = LanceStore(tmp_path / "lance", identity("lancedb"))
    first = fill(store, 400, ["/data/a.txt"])
    store.optimize()
    cache = store.row_cache
    assert cache is not None and len(cache) == 400 and not store.needs_optimize()
    second = fill(store, 300, ["/data/b.txt"], seed=1)  # written after the cache: read from the table
    assert store.needs_optimize() and store.row_cache is cache
    vectors = np.concatenate([first, second])
    ids = [make_chunk(i, "/data/a.txt").id for i in range(400)] + [
        make_chunk(i, "/data/b.txt").id for i in range(300)
    ]
    queries = matryoshka_vectors(10, seed=7)
    # 700 rows: an exact prefix scan and 100 candidates, so two-stage must equal brute force exactly
    assert all(_hits(store, q, 5) == _truth(vectors, ids, q, 5) for q in queries)
    store.optimize()  # a new copy of all 700 rows
    assert store.row_cache is not None and len(store.row_cache) == 700 and not store.needs_optimize()
    assert all(_hits(store, q, 5) == _truth(vectors, ids, q, 5) for q in queries)
    store.delete_chunks(["/data/a.txt"])  # the cache still holds them; the search never returns them
    assert all(_hits(store, q, 5) == _truth(second, ids[400:], q, 5) for q in queries)
    store.optimize()
    assert store.row_cache is not None and len(store.row_cache) == 300 and not store.needs_optimize()
    third = fill(store, 50, ["/data/c.txt"], seed=2)
    store.optimize()
    cache = store.row_cache
    assert cache is not None and len(cache) == 350
    everything = np.concatenate([second, third])
    ids_now = ids[400:] + [make_chunk(i, "/data/c.txt").id for i in range(50)]
    true = dict(zip(ids_now, everything, strict=True))
    copied = {json_id(cache.record(int(p))): cache.vectors[p] for p in cache.positions(cache.keys)}
    assert copied.keys() == true.keys() and all(np.array_equal(copied[i], true[i]) for i in true)
    assert all(_hits(store, q, 5) == _truth(everything, ids_now, q, 5) for q in queries)
    assert [p.name for p in (tmp_path / "lance" / "rowcache").iterdir()] == [cache.folder.name]
    store.close()


def test_a_row_cache_that_does_not_match_its_table_is_ignored_then_rebuilt(tmp_path: Path) -> None:
    stores = []
    for name, seed in (("a", 0), ("b", 1)):
        store = LanceStore(tmp_path / name, identity("lancedb"))
        fill(store, 300, ["/data/x.txt"], seed=seed)  # same row ids and chunk ids, other vectors
        store.optimize()
        stores.append(store)
    vectors_b = matryoshka_vectors(300, seed=1)
    ids = [make_chunk(i, "/data/x.txt").id for i in range(300)]
    queries = matryoshka_vectors(5, seed=8)
    # b's folder gets a's cache (say, restored from another index's backup)
    shutil.rmtree(tmp_path / "b" / "rowcache")
    shutil.copytree(tmp_path / "a" / "rowcache", tmp_path / "b" / "rowcache")
    reopened = LanceStore(tmp_path / "b", identity("lancedb"))
    assert reopened.row_cache is None and reopened.needs_optimize()
    assert all(_hits(reopened, q) == _truth(vectors_b, ids, q) for q in queries)
    reopened.optimize()
    assert reopened.row_cache is not None and not reopened.needs_optimize()
    assert all(_hits(reopened, q) == _truth(vectors_b, ids, q) for q in queries)
    # a damaged copy (truncated vectors) and a copy left half-written by a crash are ignored too
    published = reopened.row_cache.folder
    with (published / "vectors.npy").open("r+b") as f:
        f.truncate(1000)
    (tmp_path / "b" / "rowcache" / ".tmp-1-99").mkdir()
    again = LanceStore(tmp_path / "b", identity("lancedb"))
    assert again.row_cache is None
    assert all(_hits(again, q) == _truth(vectors_b, ids, q) for q in queries)
    again.optimize()  # the table did not change, but its cache did not verify: rewritten
    assert again.row_cache is not None
    assert [p.name for p in (tmp_path / "b" / "rowcache").iterdir()] == [again.row_cache.folder.name]
    for store in [*stores, reopened, again]:
        store.close()


def test_a_reader_picks_up_the_cache_a_writer_publishes(tmp_path: Path) -> None:
    writer = LanceStore(tmp_path / "lance", identity("lancedb"))
    reader = LanceStore(tmp_path / "lance", identity("lancedb"))  # another process, say the server
    vectors = fill(writer, 200, ["/data/a.txt"])
    writer.optimize()
    ids = [make_chunk(i, "/data/a.txt").id for i in range(200)]
    query = matryoshka_vectors(1, seed=4)[0]
    reader.refresh_indexes()  # what READ_CONSISTENCY does within a second
    assert reader.row_cache is None and _hits(reader, query) == _truth(vectors, ids, query)
    assert reader.row_cache is not None and reader.row_cache.folder == writer.row_cache.folder  # type: ignore[union-attr]
    writer.delete_chunks(["/data/a.txt"])
    fill(writer, 100, ["/data/b.txt"], seed=5)
    writer.optimize()  # a new copy; the reader's old one is deleted
    time.sleep(READ_CONSISTENCY.total_seconds() + 0.1)
    assert {h.chunk.source for h in two_stage(reader, query, 10, Filters())} == {"/data/b.txt"}
    assert reader.row_cache is not None and reader.row_cache.folder == writer.row_cache.folder  # type: ignore[union-attr]
    writer.close()
    reader.close()


def test_identity_round_trip_and_mismatch(tmp_path: Path) -> None:
    ident = identity("lancedb")
    assert read_identity(tmp_path) is None
    write_identity(tmp_path, ident)
    assert read_identity(tmp_path) == ident
    ident.check("test-model", "1.0", DIM, "x")
    with pytest.raises(ModelMismatch, match=r"test-model 1\.0 \(64-d\)"):
        ident.check("test-model", "2.0", DIM, "the query")


def test_helpers() -> None:
    assert chunk_id("/a", "whole") == chunk_id("/a", "whole") != chunk_id("/a", "page:1")
    assert clip_text("é" * 10, 5) == "éé"
    sources = ["/home/u/docs/a.pdf", "/home/u/docs/sub/b.txt", "/home/u/talks/c.mp4"]
    assert match_sources(sources, "*.pdf") == ("/home/u/docs/a.pdf",)
    assert match_sources(sources, "docs/*") == tuple(sources[:2])
    assert match_sources(sources, "./talks/*.mp4") == (sources[2],)
    assert match_sources(sources, "/home/u/docs/*.txt") == (sources[1],)
