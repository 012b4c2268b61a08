"""The final output of a batch job, chosen by extension, assembled chunk by chunk and moved into place.

| extension | what is written |
|---|---|
| ``.jsonl`` | one row per input: ``{"key", "line", "values", "model", "version", "dim"}`` or ``{"key", "line", "error"}`` |
| ``.parquet`` | columns ``key, line, values`` (fixed-size list of float32, null on error), ``error_code, error_status, error_message``; the model identity in the schema metadata |
| ``.npy`` | an ``(N, width)`` float32 matrix (an error row is all zeros) and the id map ``OUTPUT-stem.ids.jsonl``: ``{"row", "key", "line"}`` plus ``"error"`` on error rows |

Rows are in input order. Each writer fills a scratch file inside the work dir (one chunk in
memory at a time; ``.npy`` through a preallocated memmap), then fsyncs it and renames it over
the output, so a reader never sees a half-written output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from omnivec.durable import fsync_path
from omnivec.errors import InvalidInput, MissingDependency

from .chunks import ChunkResult, Row
from .workdir import WorkDir

FORMATS = (".jsonl", ".parquet", ".npy")
_ROW_GROUP = 8192  # parquet rows per row group


class OutputWriter(Protocol):
    def add(self, chunk: ChunkResult) -> None: ...

    def commit(self) -> None:
        """Move the finished output into place (atomically per file)."""


def check_output(output: Path) -> None:
    """Fail before any work if the output format is unknown or its library is missing.

    Raises:
        InvalidInput: the extension is not .jsonl, .parquet or .npy.
        MissingDependency: pyarrow is needed for .parquet.
    """
    if output.suffix not in FORMATS:
        raise InvalidInput(f"output {output} has an unknown extension; use one of {', '.join(FORMATS)}")
    if output.suffix == ".parquet":
        _pyarrow()


def id_map_path(output: Path) -> Path:
    """The id map beside a ``.npy`` output: ``vectors.npy`` -> ``vectors.ids.jsonl`` (as ``omnivec embed``)."""
    return output.with_suffix(".ids.jsonl")


def output_files(output: Path) -> list[Path]:
    return [output, id_map_path(output)] if output.suffix == ".npy" else [output]


def open_writer(output: Path, workdir: WorkDir, total: int, identity: dict[str, Any]) -> OutputWriter:
    check_output(output)
    if output.suffix == ".npy":
        return NpyWriter(output, workdir, total, identity["dim"])
    if output.suffix == ".parquet":
        return ParquetWriter(output, workdir, identity)
    return JsonlWriter(output, workdir, identity)


def _error_json(row: Row) -> dict[str, Any]:
    assert row.error is not None
    return row.error.to_json()


def _finish(scratch: Path, output: Path) -> None:
    with scratch.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(scratch, output)
    fsync_path(output.parent)


class JsonlWriter:
    def __init__(self, output: Path, workdir: WorkDir, identity: dict[str, Any]) -> None:
        self.output, self.scratch = output, workdir.scratch("output.jsonl")
        self.identity = {k: identity[k] for k in ("model", "version", "dim")}
        self.file: IO[str] = self.scratch.open("w", encoding="utf-8")

    def add(self, chunk: ChunkResult) -> None:
        values = np.round(chunk.vectors.astype(np.float64), 8).tolist()  # float32 is exact to ~7 digits
        lines = [json.dumps(self._row(row, v)) + "\n" for row, v in zip(chunk.rows, values, strict=True)]
        self.file.writelines(lines)

    def _row(self, row: Row, values: list[float]) -> dict[str, Any]:
        head = {"key": row.key, "line": row.line}
        return {**head, "error": _error_json(row)} if row.error else {**head, "values": values, **self.identity}

    def commit(self) -> None:
        self.file.close()
        _finish(self.scratch, self.output)


class NpyWriter:
    def __init__(self, output: Path, workdir: WorkDir, total: int, dim: int) -> None:
        self.output, self.ids_path = output, id_map_path(output)
        self.scratch, self.ids_scratch = workdir.scratch("vectors.npy"), workdir.scratch("ids.jsonl")
        if total:
            self.matrix = np.lib.format.open_memmap(self.scratch, mode="w+", dtype=np.float32, shape=(total, dim))
        else:  # a memmap cannot be empty
            with self.scratch.open("wb") as f:
                np.save(f, np.zeros((0, dim), np.float32))
        self.ids: IO[str] = self.ids_scratch.open("w", encoding="utf-8")
        self.next_row = 0

    def add(self, chunk: ChunkResult) -> None:
        n = len(chunk.rows)
        self.matrix[self.next_row : self.next_row + n] = chunk.vectors  # error rows are zeros
        for i, row in enumerate(chunk.rows, self.next_row):
            entry = {"row": i, "key": row.key, "line": row.line}
            self.ids.write(json.dumps({**entry, "error": _error_json(row)} if row.error else entry) + "\n")
        self.next_row += n

    def commit(self) -> None:
        if self.next_row:
            self.matrix.flush()
            del self.matrix
        self.ids.close()
        _finish(self.ids_scratch, self.ids_path)
        _finish(self.scratch, self.output)


def _pyarrow() -> Any:
    try:
        import pyarrow  # type: ignore[import-untyped,unused-ignore]
        import pyarrow.parquet  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise MissingDependency("a .parquet output needs pyarrow: pip install pyarrow") from exc
    return pyarrow


class ParquetWriter:
    def __init__(self, output: Path, workdir: WorkDir, identity: dict[str, Any]) -> None:
        pa = _pyarrow()
        self.pa, self.output, self.scratch, self.dim = pa, output, workdir.scratch("output.parquet"), identity["dim"]
        self.schema = pa.schema(
            [("key", pa.string()), ("line", pa.int64()), ("values", pa.list_(pa.float32(), self.dim)),
             ("error_code", pa.int32()), ("error_status", pa.string()), ("error_message", pa.string())],
            metadata={"omnivec": json.dumps(identity)},
        )
        self.writer = pa.parquet.ParquetWriter(self.scratch, self.schema)
        self.pending: list[ChunkResult] = []

    def add(self, chunk: ChunkResult) -> None:
        self.pending.append(chunk)
        if sum(len(c.rows) for c in self.pending) >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.writer.write_table(self._table(self.pending))
            self.pending = []

    def _table(self, chunks: Sequence[ChunkResult]) -> Any:
        pa = self.pa
        rows = [r for c in chunks for r in c.rows]
        vectors = np.concatenate([c.vectors for c in chunks]).reshape(-1)  # (rows, dim) -> (rows * dim,)
        failed = pa.array([r.error is not None for r in rows])
        values = pa.FixedSizeListArray.from_arrays(pa.array(vectors, pa.float32()), self.dim, mask=failed)
        errors = [r.error for r in rows]
        return pa.table(
            [pa.array([r.key for r in rows], pa.string()), pa.array([r.line for r in rows], pa.int64()), values,
             pa.array([e.code if e else None for e in errors], pa.int32()),
             pa.array([e.status if e else None for e in errors], pa.string()),
             pa.array([e.message if e else None for e in errors], pa.string())],
            schema=self.schema,
        )

    def commit(self) -> None:
        self._flush()
        self.writer.close()
        _finish(self.scratch, self.output)
