"""The counting pass, chunk files, the work dir and the output writers (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from omnivec.batch.chunks import ChunkResult, ChunkSpec, Row, plan_chunks
from omnivec.batch.outputs import check_output, id_map_path, open_writer
from omnivec.batch.requests import RowError
from omnivec.batch.workdir import ChunkEntry, JobConflict, WorkDir, job_fingerprint
from omnivec.errors import InvalidInput

IDENTITY = {"model": "lite", "version": "0.1.0+test", "dim": 3, "normalized": True}


def test_plan_cuts_rows_not_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n" + b"".join(b'{"text": "%d"}\n' % i + (b"\n" if i == 2 else b"") for i in range(7)))
    plan = plan_chunks(path, chunk_size=3, max_line_bytes=1000)
    assert plan.total == 7
    assert [(c.index, c.first_line, c.first_row, c.rows) for c in plan.chunks] == [(0, 2, 0, 3), (1, 6, 3, 3), (2, 9, 6, 1)]
    data = path.read_bytes()
    assert data[plan.chunks[1].start :].startswith(b'{"text": "3"}') and plan.chunks[-1].end == len(data)
    assert plan.chunks[0].end == plan.chunks[1].start  # the blank line after row 2 sits inside chunk 0


def test_plan_of_an_empty_input(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n  \n")
    assert plan_chunks(path, 4, 1000).chunks == () and plan_chunks(path, 4, 1000).total == 0


def chunk(index: int, keys: list[str], failed: set[str] = frozenset()) -> ChunkResult:  # type: ignore[assignment]
    rows = tuple(Row(10 * index + i, k, RowError(400, "INVALID_ARGUMENT", f"bad {k}") if k in failed else None)
                 for i, k in enumerate(keys))
    vectors = np.array([[0.0, 0.0, 0.0] if k in failed else [index, i, 1.0] for i, k in enumerate(keys)], np.float32)
    return ChunkResult(index, rows, vectors)


def test_chunk_result_round_trips_through_bytes() -> None:
    original = chunk(3, ["a", "b", "c"], failed={"b"})
    again = ChunkResult.from_bytes(original.to_bytes())
    assert again.index == 3 and again.rows == original.rows and again.failed == 1
    np.testing.assert_array_equal(again.vectors, original.vectors)


def test_spec_round_trips_through_json() -> None:
    spec = ChunkSpec(4, 100, 200, 9, 40, 10)
    assert ChunkSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


@pytest.fixture
def workdir(tmp_path: Path) -> WorkDir:
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n')
    wd = WorkDir.for_output(tmp_path / "out.npy")
    wd.create(job_fingerprint(tmp_path / "in.jsonl", {"dim": 3}))
    return wd


def test_workdir_is_created_whole_and_checks_its_fingerprint(workdir: WorkDir, tmp_path: Path) -> None:
    assert workdir.path.name == "out.npy.partial" and (workdir.path / "job.json").is_file()
    workdir.check(job_fingerprint(tmp_path / "in.jsonl", {"dim": 3}))
    with pytest.raises(JobConflict, match=r"the options differ \(dim: 3 -> 4\).*--restart"):
        workdir.check(job_fingerprint(tmp_path / "in.jsonl", {"dim": 4}))
    (tmp_path / "in.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    with pytest.raises(JobConflict, match="the input file changed"):
        workdir.check(job_fingerprint(tmp_path / "in.jsonl", {"dim": 3}))


def test_manifest_drops_a_torn_line_and_chunks_without_files(workdir: WorkDir) -> None:
    workdir.save_chunk(ChunkEntry(0, 3, 1, {"INVALID_ARGUMENT": 1}), chunk(0, ["a", "b", "c"], {"b"}).to_bytes())
    workdir.save_chunk(ChunkEntry(1, 3, 0, {}), chunk(1, ["d", "e", "f"]).to_bytes())
    workdir.chunk_file(1).unlink()  # cannot happen (file first, then the line), but must not count
    with workdir.manifest.open("a") as f:
        f.write('{"chunk": 2, "rows"')  # cut by kill -9
    assert list(workdir.done()) == [0]
    assert workdir.manifest.read_text().count("\n") == 2  # done() only reads
    assert list(workdir.compact()) == [0]
    workdir.save_chunk(ChunkEntry(2, 1, 0, {}), chunk(2, ["g"]).to_bytes())  # appends after the compacted manifest
    assert list(workdir.done()) == [0, 2]


def test_workdir_remove_leaves_nothing(workdir: WorkDir) -> None:
    workdir.remove()
    assert list(workdir.path.parent.iterdir()) == [workdir.path.parent / "in.jsonl"]


def write(output: Path, workdir: WorkDir) -> None:
    writer = open_writer(output, workdir, 5, IDENTITY)
    writer.add(chunk(0, ["a", "b", "c"], failed={"b"}))
    writer.add(chunk(1, ["d", "e"]))
    writer.commit()


def test_jsonl_output(workdir: WorkDir, tmp_path: Path) -> None:
    write(tmp_path / "out.jsonl", workdir)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["key"], r["line"]) for r in rows] == [("a", 0), ("b", 1), ("c", 2), ("d", 10), ("e", 11)]
    assert rows[1]["error"] == {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad b"} and "values" not in rows[1]
    assert rows[3] == {"key": "d", "line": 10, "values": [1.0, 0.0, 1.0], "model": "lite", "version": "0.1.0+test", "dim": 3}


def test_npy_output_has_zero_rows_for_errors_and_an_id_map(workdir: WorkDir, tmp_path: Path) -> None:
    write(tmp_path / "out.npy", workdir)
    matrix = np.load(tmp_path / "out.npy")
    assert matrix.shape == (5, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[1], 0.0)
    np.testing.assert_array_equal(matrix[4], [1.0, 1.0, 1.0])
    ids = [json.loads(line) for line in id_map_path(tmp_path / "out.npy").read_text().splitlines()]
    assert id_map_path(tmp_path / "out.npy").name == "out.ids.jsonl"
    assert ids[1] == {"row": 1, "key": "b", "line": 1, "error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad b"}}
    assert ids[4] == {"row": 4, "key": "e", "line": 11}


def test_parquet_output(workdir: WorkDir, tmp_path: Path) -> None:
    write(tmp_path / "out.parquet", workdir)
    table = pq.read_table(tmp_path / "out.parquet")
    assert json.loads(table.schema.metadata[b"omnivec"]) == IDENTITY
    assert table.column("key").to_pylist() == ["a", "b", "c", "d", "e"]
    values = table.column("values").to_pylist()
    assert values[1] is None and values[4] == [1.0, 1.0, 1.0]
    assert table.column("error_status").to_pylist() == [None, "INVALID_ARGUMENT", None, None, None]


@pytest.mark.parametrize("suffix", [".jsonl", ".npy", ".parquet"])
def test_empty_outputs(workdir: WorkDir, tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"empty{suffix}"
    open_writer(output, workdir, 0, IDENTITY).commit()
    assert output.is_file()
    if suffix == ".npy":
        assert np.load(output).shape == (0, 3)


def test_unknown_output_extension() -> None:
    with pytest.raises(InvalidInput, match=r"unknown extension; use one of \.jsonl, \.parquet, \.npy"):
        check_output(Path("out.csv"))


def test_a_second_run_of_the_same_job_is_refused_while_the_first_holds_it(workdir: WorkDir) -> None:
    with workdir.locked():
        with pytest.raises(JobConflict, match="another run of this job is writing"):
            with workdir.locked():
                pass
    with workdir.locked():  # released with the first run
        pass
