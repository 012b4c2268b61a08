"""run_job in process with the real lite model: rows, errors, isolation, formats, resume, conflicts."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from omnivec import Content, Embedder, Part
from omnivec.batch import JobConflict, JobOptions, run_job, summary_path
from omnivec.batch.chunks import embed_isolating
from omnivec.batch.requests import RowError
from omnivec.errors import DecodeError, MissingDependency
from omnivec.models.base import Embeddings, EmbedOptions


def write_jsonl(path: Path, lines: Sequence[Any]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def mixed_input(tmp_path: Path, photo_png: Path) -> Path:
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(photo_png.read_bytes()[:300])
    b64 = base64.b64encode(photo_png.read_bytes()).decode()
    return write_jsonl(tmp_path / "in.jsonl", [
        {"id": "t1", "text": "a tabby cat"},
        {"key": "doc", "request": {"content": {"parts": [{"text": "a cat"}]}, "taskType": "RETRIEVAL_DOCUMENT", "title": "Cats"}},
        "",
        "{oops",
        {"id": "photo", "content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": b64}}]}},
        {"id": "broken", "path": str(truncated)},
        {"id": "t2", "text": "rockets"},
        {"id": "outside", "path": "/etc/hostname"},
        {"id": "t3", "text": "coffee"},
    ])


def test_every_line_gives_one_row_in_order(embedder: Embedder, mixed_input: Path, tmp_path: Path, photo_png: Path) -> None:
    out = tmp_path / "out.jsonl"
    summary = run_job(mixed_input, out, JobOptions(chunk_size=4, batch_size=8), embedder=embedder)
    rows = read_jsonl(out)
    assert [(r["key"], r["line"]) for r in rows] == [
        ("t1", 1), ("doc", 2), (None, 4), ("photo", 5), ("broken", 6), ("t2", 7), ("outside", 8), ("t3", 9),
    ]
    errors = {r["key"]: r["error"] for r in rows if "error" in r}
    assert {k: (e["code"], e["status"]) for k, e in errors.items()} == {
        None: (400, "INVALID_ARGUMENT"), "broken": (400, "INVALID_ARGUMENT"), "outside": (403, "PERMISSION_DENIED"),
    }
    assert "outside the allowed roots" in errors["outside"]["message"]
    assert (summary.total, summary.succeeded, summary.failed) == (8, 5, 3)
    assert summary.failures_by_status == {"INVALID_ARGUMENT": 2, "PERMISSION_DENIED": 1}
    assert json.loads(summary_path(out).read_text())["succeeded"] == 5
    assert not (tmp_path / "out.jsonl.partial").exists()

    # Rows next to a bad one in its model batch (isolation), and per-line task and title, are right.
    vectors = {r["key"]: np.array(r["values"]) for r in rows if "values" in r}
    expected = {
        "t2": embedder.embed(["rockets"]).vectors[0],
        "photo": embedder.embed([Part.from_path(photo_png)]).vectors[0],
        "doc": embedder.embed(["a cat"], task="RETRIEVAL_DOCUMENT", title="Cats").vectors[0],
    }
    for key, vector in expected.items():
        np.testing.assert_allclose(vectors[key], vector, atol=1e-6)  # batch composition moves the 7th digit
    assert not np.allclose(vectors["doc"], embedder.embed(["a cat"]).vectors[0], atol=1e-3)


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "texts.jsonl", [{"id": f"n{i}", "text": f"note {i} about topic {i % 3}"} for i in range(10)])


def npy_rows(out: Path) -> tuple[list[str], np.ndarray]:
    ids = read_jsonl(out.with_suffix(".ids.jsonl"))
    return [i["key"] for i in ids], np.load(out)


def test_formats_hold_the_same_vectors(embedder: Embedder, texts: Path, tmp_path: Path) -> None:
    options = JobOptions(dim=64, chunk_size=3)
    for suffix in (".npy", ".parquet", ".jsonl"):
        run_job(texts, tmp_path / f"out{suffix}", options, embedder=embedder)
    keys, matrix = npy_rows(tmp_path / "out.npy")
    assert keys == [f"n{i}" for i in range(10)] and matrix.shape == (10, 64)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("key").to_pylist() == keys
    np.testing.assert_array_equal(np.array(table.column("values").to_pylist(), np.float32), matrix)
    from_jsonl = np.array([r["values"] for r in read_jsonl(tmp_path / "out.jsonl")])
    np.testing.assert_allclose(from_jsonl, matrix, atol=1e-7)  # JSON keeps 8 decimals


class Interrupt(Exception):
    """Stands for a crash: raised from the progress callback after some chunks are checkpointed."""


def test_interrupted_job_resumes_and_equals_a_clean_run(embedder: Embedder, texts: Path, tmp_path: Path) -> None:
    options = JobOptions(chunk_size=3)
    run_job(texts, tmp_path / "clean.npy", options, embedder=embedder)

    def crash_after_two_chunks(done: int, total: int) -> None:
        if done >= 6:
            raise Interrupt

    out = tmp_path / "out.npy"
    with pytest.raises(Interrupt):
        run_job(texts, out, options, progress=crash_after_two_chunks, embedder=embedder)
    assert (tmp_path / "out.npy.partial" / "manifest.jsonl").read_text().count("\n") == 2 and not out.exists()

    seen: list[tuple[int, int]] = []
    summary = run_job(texts, out, options, progress=lambda done, total: seen.append((done, total)), embedder=embedder)
    assert summary.resumed_rows == 6 and seen[0] == (6, 10) and seen[-1] == (10, 10)
    clean_keys, clean = npy_rows(tmp_path / "clean.npy")
    keys, matrix = npy_rows(out)
    assert keys == clean_keys
    np.testing.assert_array_equal(matrix, clean)


def test_rerun_after_completion_returns_the_summary(embedder: Embedder, texts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = run_job(texts, out, JobOptions(chunk_size=4), embedder=embedder)
    again = run_job(texts, out, JobOptions(chunk_size=4), embedder=embedder)
    assert (again.total, again.succeeded, again.resumed_rows) == (first.total, first.succeeded, 10)


def test_another_jobs_output_is_not_overwritten_without_restart(embedder: Embedder, texts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_job(texts, out, JobOptions(chunk_size=4), embedder=embedder)
    with pytest.raises(JobConflict, match=r"the options differ \(dim: 384 -> 32\); pass --restart"):
        run_job(texts, out, JobOptions(chunk_size=4, dim=32), embedder=embedder)
    summary = run_job(texts, out, JobOptions(chunk_size=4, dim=32, restart=True), embedder=embedder)
    assert summary.dim == 32 and len(read_jsonl(out)[0]["values"]) == 32


def test_a_failed_restart_keeps_the_earlier_output(embedder: Embedder, texts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_job(texts, out, JobOptions(chunk_size=4), embedder=embedder)
    before = out.read_bytes()

    def interrupt(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(texts, out, JobOptions(chunk_size=4, dim=32, restart=True), progress=interrupt, embedder=embedder)
    assert out.read_bytes() == before  # still the first job's complete output
    summary = run_job(texts, out, JobOptions(chunk_size=4, dim=32), embedder=embedder)  # resumes the restart
    assert summary.dim == 32 and summary.resumed_rows == 4 and len(read_jsonl(out)[0]["values"]) == 32


class FakeEmbedder:
    """A test double for the embedder seam of embed_isolating: fails on chosen texts."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        self.failures, self.calls = failures, 0

    def embed_contents(self, contents: list[Content], options: EmbedOptions, batch_size: int = 32) -> Embeddings:
        self.calls += 1
        for content in contents:
            if (text := content.parts[0].text or "") in self.failures:
                raise self.failures[text]
        return Embeddings(np.ones((len(contents), 2), np.float32), "fake", "0", 2, [{}] * len(contents))


def contents(*texts: str) -> list[Content]:
    return [Content((Part.from_text(t),)) for t in texts]


def test_a_failing_batch_is_retried_one_by_one() -> None:
    fake = FakeEmbedder({"bad": DecodeError("cannot decode"), "bug": ValueError("boom")})
    outcomes = embed_isolating(fake, contents("a", "bad", "b", "bug"), EmbedOptions())
    assert fake.calls == 5
    assert isinstance(outcomes[0], np.ndarray) and isinstance(outcomes[2], np.ndarray)
    assert outcomes[1] == RowError(400, "INVALID_ARGUMENT", "cannot decode")
    assert outcomes[3] == RowError(500, "INTERNAL", "ValueError: boom")


def test_an_engine_failure_stops_the_job() -> None:
    fake = FakeEmbedder({"a": MissingDependency("pip install something")})
    with pytest.raises(MissingDependency):
        embed_isolating(fake, contents("a", "b"), EmbedOptions())
