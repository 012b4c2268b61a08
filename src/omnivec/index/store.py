"""The storage seam of the index: what is kept per chunk and per file, and the VectorStore protocol.

An index holds two tables. ``chunks`` has one row per embedded chunk: its provenance (source
file, modality, page or time range), the text it was built from, the model identity, the full
vector and a renormalized Matryoshka prefix of it (the column the first search stage scans).
``files`` has one marker row per source file: its content hash and a ``state`` that is
``pending`` while the file's chunks are being replaced and ``complete`` once they are all in.
The ingest writes in that order (see :mod:`omnivec.index.ingest`), so after a crash at any
moment the pending markers name exactly the files whose chunks must be redone.

The index directory also holds ``omnivec-index.json``, the identity fixed at creation (model,
version, dimension, prefix width, backend): vectors always know their encoder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from omnivec.errors import DecodeError, ModelMismatch

FORMAT_VERSION = 1  # bump when the table layout changes
IDENTITY_FILE = "omnivec-index.json"
DEFAULT_PREFIX_DIM = 128  # Matryoshka prefix scanned by the first search stage
MAX_TEXT_BYTES = 48_000  # stored text per chunk, UTF-8 (the record must fit Milvus's 65,535-byte VARCHAR)
MAX_RECORD_BYTES = 65_535

Backend = Literal["lancedb", "milvus"]
BACKENDS: tuple[Backend, ...] = ("lancedb", "milvus")
Column = Literal["prefix", "vector"]
FileState = Literal["pending", "complete"]


@dataclass(frozen=True, slots=True)
class IndexIdentity:
    """Fixed when the index is created; every vector in it comes from this model."""

    model: str
    version: str  # model version + runtime, e.g. "1+text-onnx-int8.vision-onnx-fp32"
    dim: int  # width of the stored full vectors
    prefix_dim: int  # width of the stored prefix vectors (first search stage)
    backend: Backend
    format: int = FORMAT_VERSION

    def describe(self) -> str:
        return f"{self.model} {self.version} ({self.dim}-d)"

    def check(self, model: str, version: str, dim: int, what: str) -> None:
        """Raise ModelMismatch unless ``model``/``version``/``dim`` are this index's.

        Args:
            what: who brings the other vectors, for the message (e.g. "the query").
        """
        if (model, version, dim) != (self.model, self.version, self.dim):
            raise ModelMismatch(
                f"this index holds vectors of {self.describe()}, but {what} uses {model} {version} "
                f"({dim}-d); vectors of different models cannot be compared: use the index's model, "
                "or build a new index (another --index folder) with this one"
            )


def read_identity(folder: Path) -> IndexIdentity | None:
    """The identity recorded in ``folder``, or None when no index was created there."""
    path = folder / IDENTITY_FILE
    if not path.is_file():
        return None
    try:
        fields = json.loads(path.read_text())
        return IndexIdentity(**fields)
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"{path} is not a valid omnivec index identity ({exc}); was it edited?") from exc


def write_identity(folder: Path, identity: IndexIdentity) -> None:
    """Write the identity atomically (temporary file, fsync, rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{IDENTITY_FILE}.tmp"
    with tmp.open("w") as f:
        json.dump(asdict(identity), f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(folder / IDENTITY_FILE)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One stored chunk and where it came from (its vectors live beside it in the store)."""

    id: str  # chunk_id(source, locator): deterministic, so a redone file gets the same ids
    source: str  # absolute path of the file
    modality: str  # text, image, audio, video or pdf
    kind: str  # whole, text_window, pdf_window, pdf_page, audio_segment, video_segment
    locator: str  # where in the file: "whole", "chars:0-1210", "pages:1-6", "page:3", "time:50.000-100.000"
    text: str  # what it was built from: the text, transcript, OCR or page text
    content_hash: str  # sha256 of the file's bytes
    mtime: float  # file modification time, seconds since the epoch
    model: str
    version: str
    dim: int
    pages: tuple[int, int] | None = None  # first and last page, 1-based, inclusive
    seconds: tuple[float, float] | None = None  # start and end, seconds from the start of the file
    chars: tuple[int, int] | None = None  # character span in a text file, end exclusive


@dataclass(frozen=True, slots=True)
class FileRecord:
    """The per-file marker: written ``pending`` before a file's chunks change, ``complete`` after."""

    source: str
    content_hash: str
    mtime: float
    size: int  # bytes
    modality: str
    chunks: int
    state: FileState


@dataclass(frozen=True, slots=True)
class Filters:
    modalities: tuple[str, ...] = ()  # empty: every modality
    sources: tuple[str, ...] | None = None  # None: every source; (): none matches


@dataclass(frozen=True, slots=True)
class Candidates:
    """What a vector search returns: row handles, full vectors and, from some backends, the rows.

    A backend that holds the rows at hand (LanceDB: in its memory-mapped row cache, or read in
    the same pass as the vectors) gives ``row(i)``, the stored row of candidate ``i``, so the
    hits need no second read. Others (Milvus) give ``row=None`` and only the final hits are
    fetched (``fetch(keys)``).
    """

    keys: tuple[Any, ...]  # backend row handles: LanceDB stable row ids, Milvus primary keys
    vectors: np.ndarray  # (C, dim) the full stored vectors, for the exact rerank
    scores: np.ndarray  # (C,) dot products with the query in the column searched
    row: Callable[[int], dict[str, Any]] | None = None  # candidate i -> its stored row (row_to_chunk)

    @classmethod
    def empty(cls, dim: int) -> Candidates:
        return cls((), np.zeros((0, dim), np.float32), np.zeros(0, np.float32))


class VectorStore(Protocol):
    """What the index needs from a vector database; every call is one write or one read."""

    identity: IndexIdentity

    def list_files(self) -> dict[str, FileRecord]: ...

    def put_files(self, records: Sequence[FileRecord]) -> None:
        """Insert or replace markers, keyed by source."""
        ...

    def delete_files(self, sources: Sequence[str]) -> None: ...

    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray, prefixes: np.ndarray) -> None:
        """Insert chunks in one write; ``vectors`` (N, dim), ``prefixes`` (N, prefix_dim), unit rows."""
        ...

    def delete_chunks(self, sources: Sequence[str]) -> None: ...

    def list_chunks(self, sources: Sequence[str] | None = None) -> list[Chunk]:
        """Every stored chunk row (of ``sources`` if given), duplicates included."""
        ...

    def count_chunks(self, filters: Filters | None = None) -> int: ...

    def search(self, query: np.ndarray, column: Column, k: int, filters: Filters) -> Candidates:
        """The ``k`` best rows by dot product with ``query`` in ``column`` (ANN or exact scan), best first."""
        ...

    def fetch(self, keys: Sequence[Any]) -> list[Chunk | None]:
        """The chunks of rows returned by ``search``, in order; None for a row deleted since."""
        ...

    def ann_index(self) -> str | None:
        """A description of the ANN index on the prefix column, or None when searches scan."""
        ...

    def optimize(self) -> None:
        """Compact storage and build or refresh the ANN index once the table is large enough."""
        ...

    def needs_optimize(self) -> bool:
        """True when ``optimize()`` has work left even though no chunk changed (e.g. a crash
        struck before it ran, after the last chunk was written)."""
        ...

    def close(self) -> None: ...


def chunk_id(source: str, locator: str) -> str:
    """Deterministic id of a chunk: the same file and place always give the same id."""
    return hashlib.sha256(f"{source}\x00{locator}".encode()).hexdigest()[:32]


def clip_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """Cut ``text`` to at most ``max_bytes`` of UTF-8 without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


# -- row conversion shared by the backends ------------------------------------------------------
# A chunk is stored as a few columns that filters and maintenance use, plus the whole chunk as one
# JSON "record": fetching a hit then reads one column, not fifteen (a column per field made the
# LanceDB fetch of 10 hits cost more than the search itself).
CHUNK_COLUMNS: tuple[str, ...] = ("id", "source", "modality", "content_hash", "record")
FILE_COLUMNS: tuple[str, ...] = ("source", "content_hash", "mtime", "size", "modality", "chunks", "state")


def _record(chunk: Chunk) -> str:
    """The chunk as JSON, its text cut until the whole record fits ``MAX_RECORD_BYTES``."""
    text = clip_text(chunk.text)
    while True:
        record = json.dumps({**asdict(chunk), "text": text}, ensure_ascii=False)
        excess = len(record.encode()) - MAX_RECORD_BYTES
        if excess <= 0:
            return record
        text = clip_text(text, max(0, len(text.encode()) - excess))  # escapes only add bytes: converges


def chunk_to_row(chunk: Chunk) -> dict[str, Any]:
    return {"id": chunk.id, "source": chunk.source, "modality": chunk.modality,
            "content_hash": chunk.content_hash, "record": _record(chunk)}  # fmt: skip


def _span(value: list[Any] | None) -> tuple[Any, Any] | None:
    return None if value is None else (value[0], value[1])


def row_to_chunk(row: dict[str, Any]) -> Chunk:
    fields: dict[str, Any] = json.loads(row["record"])
    for name in ("pages", "seconds", "chars"):  # JSON lists back to tuples
        fields[name] = _span(fields[name])
    return Chunk(**fields)


def file_to_row(record: FileRecord) -> dict[str, Any]:
    return asdict(record)


def row_to_file(row: dict[str, Any]) -> FileRecord:
    return FileRecord(**{name: row[name] for name in FILE_COLUMNS})
