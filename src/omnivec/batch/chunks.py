"""Chunks: the unit of work and of checkpointing of a batch job.

The counting pass cuts the input into chunks of ``chunk_size`` rows (non-blank lines) by byte
offset, so any worker can read its chunk straight from the file and a resumed job skips done
chunks without parsing them. :func:`embed_chunk` turns one chunk into one
:class:`ChunkResult` (a row per input, vectors, errors); both engines call it, so they give
the same vectors. A chunk's result is serialized to one ``.npz`` blob, written atomically.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from omnivec.content import Content
from omnivec.errors import JobConflict, OmnivecError
from omnivec.models.base import Embeddings, EmbedOptions

from .requests import BadLine, BatchRequest, LineRules, RowError, iter_lines, parse_line

logger = logging.getLogger(__name__)


class ContentEmbedder(Protocol):
    """What a chunk needs from :class:`omnivec.Embedder`."""

    def embed_contents(self, contents: list[Content], options: EmbedOptions, batch_size: int = ...) -> Embeddings: ...


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    index: int
    start: int  # byte offset of its first row
    end: int  # byte offset where the next chunk starts (or the file size)
    first_line: int  # 1-based line number of its first row
    first_row: int  # output row of its first input
    rows: int  # inputs in it (blank lines are not inputs)

    def to_json(self) -> dict[str, int]:
        return {"index": self.index, "start": self.start, "end": self.end, "first_line": self.first_line,
                "first_row": self.first_row, "rows": self.rows}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ChunkSpec:
        return cls(*(int(obj[k]) for k in ("index", "start", "end", "first_line", "first_row", "rows")))


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    chunks: tuple[ChunkSpec, ...]
    total: int  # rows in the whole input


@dataclass(frozen=True, slots=True)
class ChunkJob:
    """Everything a worker needs to embed any chunk of one job (picklable, for Ray actors)."""

    input_path: Path
    rules: LineRules
    batch_size: int  # contents per model call

    @property
    def width(self) -> int:
        return self.rules.defaults.dim or 0  # run_job always sets the width


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    key: str | None
    error: RowError | None  # None: the row has a vector

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "key": self.key, "error": self.error.to_json() if self.error else None}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Row:
        error = obj["error"]
        return cls(obj["line"], obj["key"], RowError(**error) if error else None)


@dataclass(frozen=True, slots=True)
class ChunkResult:
    index: int
    rows: tuple[Row, ...]
    vectors: np.ndarray  # (rows, width) float32; zeros where a row has an error

    @property
    def failed(self) -> int:
        return sum(r.error is not None for r in self.rows)

    def to_bytes(self) -> bytes:
        rows = json.dumps([r.to_json() for r in self.rows]).encode()
        buf = io.BytesIO()
        np.savez(buf, vectors=self.vectors, rows=np.frombuffer(rows, dtype=np.uint8), index=np.int64(self.index))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ChunkResult:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            rows = tuple(Row.from_json(r) for r in json.loads(npz["rows"].tobytes()))
            return cls(int(npz["index"]), rows, npz["vectors"])


def plan_chunks(input_path: Path, chunk_size: int, max_line_bytes: int) -> ChunkPlan:
    """The counting pass: one streaming read that cuts the input into chunks of ``chunk_size`` rows."""
    chunks: list[ChunkSpec] = []
    rows, first = 0, None  # rows so far; the first line of the chunk being counted
    size = input_path.stat().st_size
    with input_path.open("rb") as f:
        for raw in iter_lines(f, 0, size, 1, max_line_bytes):
            if raw.blank:
                continue
            if rows % chunk_size == 0:
                if first is not None:  # blank lines before this row belong to the previous chunk
                    index = len(chunks)
                    chunks.append(ChunkSpec(index, first.start, raw.start, first.number, index * chunk_size, chunk_size))
                first = raw
            rows += 1
    if first is not None:
        index = len(chunks)
        chunks.append(ChunkSpec(index, first.start, size, first.number, index * chunk_size, rows - index * chunk_size))
    return ChunkPlan(tuple(chunks), rows)


def read_chunk(job: ChunkJob, spec: ChunkSpec) -> list[BatchRequest | BadLine]:
    """Parse the rows of one chunk straight from its byte range."""
    with job.input_path.open("rb") as f:
        lines = iter_lines(f, spec.start, spec.end, spec.first_line, job.rules.max_line_bytes)
        items = [parse_line(raw, job.rules) for raw in lines if not raw.blank]
    if len(items) != spec.rows:
        raise JobConflict(
            f"chunk {spec.index} of {job.input_path} has {len(items)} rows where the plan counted {spec.rows}: "
            "the input changed while the job ran; rerun with --restart"
        )
    return items


def embed_chunk(embedder: ContentEmbedder, job: ChunkJob, spec: ChunkSpec) -> ChunkResult:
    """Embed one chunk: bad lines and inputs the model refuses become error rows, the rest vectors."""
    items = read_chunk(job, spec)
    vectors = np.zeros((len(items), job.width), np.float32)  # (rows, width); error rows stay zero
    errors = [item.error if isinstance(item, BadLine) else None for item in items]
    for options, batch in _model_batches(items, job.batch_size):
        outcomes = embed_isolating(embedder, [request.content for _, request in batch], options)
        for (i, _), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, RowError):
                errors[i] = outcome
            else:
                vectors[i] = outcome
    rows = tuple(Row(item.line, item.key, error) for item, error in zip(items, errors, strict=True))
    return ChunkResult(spec.index, rows, vectors)


def _model_batches(
    items: Sequence[BatchRequest | BadLine], size: int
) -> Iterator[tuple[EmbedOptions, list[tuple[int, BatchRequest]]]]:
    """Requests grouped by options (in input order within a group), cut into model batches of ``size``."""
    groups: dict[EmbedOptions, list[tuple[int, BatchRequest]]] = {}
    for i, item in enumerate(items):
        if isinstance(item, BatchRequest):
            groups.setdefault(item.options, []).append((i, item))
    for options, requests in groups.items():
        for start in range(0, len(requests), size):
            yield options, requests[start : start + size]


def embed_isolating(
    embedder: ContentEmbedder, contents: Sequence[Content], options: EmbedOptions
) -> list[np.ndarray | RowError]:
    """Embed a batch; if it fails, embed its contents one by one so only the bad ones fail.

    Input errors (4xx) become error rows. An engine failure (an OmnivecError of status 5xx or
    429, such as MissingDependency) is raised: it would fail every row, and the job resumes
    once it is fixed. Any other exception on a single content becomes an INTERNAL error row
    and is logged with its traceback, so one input that trips a decoder bug cannot stall a job.
    """
    try:
        return list(embedder.embed_contents(list(contents), options, batch_size=len(contents)).vectors)
    except Exception as exc:
        _raise_engine_failure(exc)
        if len(contents) == 1:
            return [_row_error(exc)]
    return [embed_isolating(embedder, [c], options)[0] for c in contents]


def _raise_engine_failure(exc: Exception) -> None:
    if isinstance(exc, OmnivecError) and (exc.http_status >= 500 or exc.http_status == 429):
        raise exc


def _row_error(exc: Exception) -> RowError:
    if not isinstance(exc, OmnivecError):
        logger.warning("an input failed with an unexpected error; recorded as INTERNAL", exc_info=exc)
    return RowError.from_exception(exc)
