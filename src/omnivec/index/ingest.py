"""Ingest: files and folders -> chunks -> vectors -> the store, incrementally and crash-safely.

A run walks the paths given, skips files whose content hash matches their ``complete``
marker, removes files that vanished from the folders given, and (re)embeds the rest. Files
are embedded in batches (several small files share one model call; a long file spans
several), and each batch of files is written in four steps, each one store operation:

1. markers ``pending`` for the batch's files;
2. delete the files' old chunks;
3. insert all their new chunks (ids derived from path + place, so they are the same each run);
4. markers ``complete``.

A crash before step 4 leaves ``pending`` markers; the next run starts by deleting the chunks
and markers of every pending file, which makes those files new again, so they are redone.
A file never has chunks without a marker, so nothing is orphaned, and a redone file replaces
its chunks instead of adding to them, so nothing is duplicated. Bad files (corrupt, too long
even after chunking) are recorded in the report and the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from omnivec.content import MIME_MODALITY, canonical_mime
from omnivec.embedder import Embedder
from omnivec.errors import LimitExceeded, NotFound, OmnivecError
from omnivec.index.chunking import (
    ChunkingPolicy,
    PlannedChunk,
    Tokenizer,
    built_text,
    plan_file,
    tokenizer_for,
)
from omnivec.index.store import Chunk, FileRecord, IndexIdentity, VectorStore, chunk_id
from omnivec.models.base import truncate_matryoshka

logger = logging.getLogger(__name__)

SUFFIX_MIME: dict[str, str] = {
    ".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg",
    ".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
    ".pdf": "application/pdf",
}  # fmt: skip
MAX_FILE_BYTES = 2 * 1024**3  # a file is read whole to hash and cut it


@dataclass(frozen=True, slots=True)
class IngestError:
    source: str
    error: str  # the exception class, e.g. "DecodeError"
    message: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    added: int  # files new to the index
    updated: int  # files whose content changed, re-embedded
    skipped: int  # files unchanged (same content hash)
    removed: int  # files deleted from disk (or with `delete`), and their chunks
    chunks: int  # chunks written
    errors: tuple[IngestError, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestProgress:
    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int  # grows as files are cut into chunks
    current: str | None = None  # the file being cut or written


@dataclass(frozen=True, slots=True)
class Discovery:
    files: tuple[Path, ...]  # absolute, sorted, supported suffixes only
    folders: tuple[Path, ...]  # folders given: indexed files under them that vanished are removed
    missing: tuple[Path, ...]  # paths given that do not exist
    unsupported: tuple[Path, ...]  # files given by name whose type is not indexed


def source_of(path: Path) -> str:
    """The stored name of a file: its absolute, normalized path (symlinks are not resolved)."""
    return os.path.normpath(path.absolute())


def _walk(folder: Path) -> Iterator[Path]:
    """Supported regular files under ``folder`` (symlinks to files too); hidden entries are skipped."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and path.suffix.lower() in SUFFIX_MIME and path.is_file():
                yield path  # is_file(): regular (FIFOs, devices and dangling links are left out)


def discover(paths: Iterable[Path]) -> Discovery:
    files: dict[str, Path] = {}
    folders, missing, unsupported = [], [], []
    for given in paths:
        path = Path(source_of(Path(given).expanduser()))
        if path.is_dir():
            folders.append(path)
            files.update((source_of(p), p) for p in _walk(path))
        elif not path.exists():
            missing.append(path)
        elif path.suffix.lower() in SUFFIX_MIME and path.is_file():
            files[source_of(path)] = path
        else:
            unsupported.append(path)
    ordered = tuple(files[s] for s in sorted(files))
    return Discovery(ordered, tuple(folders), tuple(missing), tuple(unsupported))


def under(source: str, folders: Sequence[Path]) -> bool:
    return any(Path(source).is_relative_to(folder) for folder in folders)


@dataclass(slots=True)
class _Job:
    """One file on its way in: read, hashed, planned, then embedded."""

    source: str
    record: FileRecord  # state "complete", written last
    planned: list[PlannedChunk]
    replaces: bool  # the index held an older version
    vectors: list[np.ndarray] = field(default_factory=list)  # (dim,) per planned chunk
    texts: list[str] = field(default_factory=list)


class Ingester:
    """Runs one ingest into ``store``; see the module docstring for the write protocol."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        policy: ChunkingPolicy | None = None,
        batch_size: int = 16,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> None:
        self.store = store
        self.identity: IndexIdentity = store.identity
        self.embedder = embedder
        self.limits = embedder.settings.limits
        self.policy = policy or ChunkingPolicy()
        self.policy.check(self.limits)
        self.batch_size = max(1, batch_size)
        self._progress = progress
        self._tokenizer: Tokenizer | None = None
        self._counts = {"added": 0, "updated": 0, "skipped": 0, "removed": 0, "chunks": 0}
        self._errors: list[IngestError] = []
        self._state = IngestProgress(0, 0, 0, 0)

    # -- entry points -------------------------------------------------------------------------
    def run(self, paths: Iterable[Path]) -> IngestReport:
        recover(self.store)
        found = discover(paths)
        markers = self.store.list_files()
        self._errors += [IngestError(str(p), "NotFound", f"{p} does not exist") for p in found.missing
                         if source_of(p) not in markers]  # fmt: skip
        self._errors += [IngestError(str(p), "UnsupportedMedia", _unsupported(p)) for p in found.unsupported]
        present = {source_of(p) for p in found.files}
        gone = [
            s for s in markers if s not in present and (under(s, found.folders) or Path(s) in found.missing)
        ]
        self._counts["removed"] = remove(self.store, [markers[s] for s in gone])
        self._report(files_total=len(found.files))
        pending: list[_Job] = []
        for path in found.files:
            job = self._prepare(path, markers)
            if job is None:
                continue
            if pending and sum(len(j.planned) for j in pending) + len(job.planned) > self.batch_size:
                self._flush(pending)
                pending = []
            pending.append(job)
        self._flush(pending)
        if self._counts["chunks"] or self._counts["removed"] or self.store.needs_optimize():
            self.store.optimize()
        return IngestReport(**self._counts, errors=tuple(self._errors))

    # -- per file -----------------------------------------------------------------------------
    def _prepare(self, path: Path, markers: dict[str, FileRecord]) -> _Job | None:
        """Read, hash and cut one file; None when it is unchanged or unreadable."""
        source = source_of(path)
        self._report(current=source)
        old = markers.get(source)
        try:
            data, info = _read(path)
            digest = hashlib.sha256(data).hexdigest()
            if old is not None and old.state == "complete" and old.content_hash == digest:
                self._counts["skipped"] += 1
                self._report(files_done=self._state.files_done + 1)
                return None
            mime = _verified_mime(path, data)
            planned = plan_file(data, mime, self.policy, self.limits, self.tokenizer)
        except Exception as exc:  # a bad file is reported, never the end of the run
            self._fail(source, exc, old)
            return None
        record = FileRecord(
            source, digest, info.st_mtime, info.st_size, MIME_MODALITY[mime], len(planned), "complete"
        )
        self._report(chunks_total=self._state.chunks_total + len(planned))
        return _Job(source, record, planned, replaces=old is not None)

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = tokenizer_for(self.embedder.model)
        return self._tokenizer

    # -- embedding and writing ----------------------------------------------------------------
    def _flush(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        counted = self._state.chunks_done
        try:
            self._embed(jobs)
            done = jobs
        except Exception as exc:  # one bad file must not sink the batch: find it, file by file
            if len(jobs) == 1:
                self._give_up(jobs[0], exc)
                return
            logger.info("a batch of %d files failed (%s); embedding each file alone", len(jobs), exc)
            self._report(chunks_done=counted)
            done = [job for job in jobs if self._embed_alone(job)]
        self._commit(done)

    def _embed_alone(self, job: _Job) -> bool:
        job.vectors, job.texts = [], []
        try:
            self._embed([job])
            return True
        except Exception as exc:
            self._give_up(job, exc)
            return False

    def _give_up(self, job: _Job, exc: Exception) -> None:
        self._fail(job.source, exc, job.record if job.replaces else None)
        self._report(chunks_done=self._state.chunks_done + len(job.planned) - len(job.vectors))

    def _embed(self, jobs: list[_Job]) -> None:
        work = [(job, planned) for job in jobs for planned in job.planned]
        for batch in _budgeted(work, self.batch_size, self.limits.max_request_bytes):
            result = self.embedder.embed([list(p.parts) for _, p in batch], task="RETRIEVAL_DOCUMENT",
                                         batch_size=len(batch))  # fmt: skip
            self.identity.check(result.model, result.version, result.dim, "the embedder")
            for (job, planned), vector, meta in zip(batch, result.vectors, result.metadata, strict=True):
                job.vectors.append(vector)
                job.texts.append(built_text(planned, meta))
            self._report(chunks_done=self._state.chunks_done + len(batch))

    def _commit(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        sources = [job.source for job in jobs]
        chunks = [
            self._chunk(job, planned, text)
            for job in jobs
            for planned, text in zip(job.planned, job.texts, strict=True)
        ]
        vectors = np.stack([v for job in jobs for v in job.vectors]).astype(np.float32)  # (N, dim)
        prefixes = truncate_matryoshka(
            vectors, self.identity.prefix_dim, self.identity.dim
        )  # (N, prefix_dim)
        self.store.put_files([replace(job.record, state="pending") for job in jobs])
        self.store.delete_chunks(sources)
        self.store.add_chunks(chunks, vectors, prefixes)
        self.store.put_files([job.record for job in jobs])
        for job in jobs:
            self._counts["updated" if job.replaces else "added"] += 1
        self._counts["chunks"] += len(chunks)
        self._report(files_done=self._state.files_done + len(jobs), current=sources[-1])

    def _chunk(self, job: _Job, planned: PlannedChunk, text: str) -> Chunk:
        record = job.record
        return Chunk(
            id=chunk_id(job.source, planned.locator), source=job.source, modality=record.modality,
            kind=planned.kind, locator=planned.locator, text=text, content_hash=record.content_hash,
            mtime=record.mtime, model=self.identity.model, version=self.identity.version,
            dim=self.identity.dim, pages=planned.pages, seconds=planned.seconds, chars=planned.chars,
        )  # fmt: skip

    def _fail(self, source: str, exc: BaseException, old: FileRecord | None) -> None:
        """Record a bad file; drop what the index held of it (it no longer matches the disk)."""
        if isinstance(exc, OmnivecError | OSError):
            message = exc.message if isinstance(exc, OmnivecError) else str(exc)
            logger.info("not indexing %s: %s", source, message)
        else:  # not a known bad-input error: keep the traceback for a bug report
            logger.warning("not indexing %s: %r", source, exc, exc_info=exc)
            message = f"{exc!r}"
        self._errors.append(IngestError(source, type(exc).__name__, message))
        if old is not None:
            remove(self.store, [old])
        self._report(files_done=self._state.files_done + 1)

    def _report(self, **changes: object) -> None:
        self._state = replace(self._state, **changes)  # type: ignore[arg-type]
        if self._progress is not None:
            self._progress(self._state)


def _budgeted(
    work: list[tuple[_Job, PlannedChunk]], batch_size: int, max_bytes: int
) -> Iterator[list[tuple[_Job, PlannedChunk]]]:
    """Split into model calls of at most ``batch_size`` chunks and ``max_bytes`` of input."""
    batch: list[tuple[_Job, PlannedChunk]] = []
    size = 0
    for item in work:
        nbytes = item[1].nbytes
        if batch and (len(batch) >= batch_size or size + nbytes > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += nbytes
    if batch:
        yield batch


def _read(path: Path) -> tuple[bytes, os.stat_result]:
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_size > MAX_FILE_BYTES:
            raise LimitExceeded(
                f"{path} is {info.st_size:,} bytes; files over {MAX_FILE_BYTES:,} bytes are not indexed"
            )
        return handle.read(), info


def _verified_mime(path: Path, data: bytes) -> str:
    from omnivec.media.sniff import verify_mime

    return canonical_mime(verify_mime(data, SUFFIX_MIME[path.suffix.lower()]))


def _unsupported(path: Path) -> str:
    return f"{path} is not a file type the index reads ({', '.join(sorted(SUFFIX_MIME))})"


def recover(store: VectorStore) -> int:
    """Undo interrupted writes: files left ``pending`` lose their chunks and markers (so they are redone)."""
    pending = [r.source for r in store.list_files().values() if r.state == "pending"]
    if pending:
        logger.info("recovering %d files from an interrupted ingest", len(pending))
        store.delete_chunks(pending)
        store.delete_files(pending)
    return len(pending)


def remove(store: VectorStore, records: Sequence[FileRecord]) -> int:
    """Remove files and their chunks: pending first, so a crash midway is finished by ``recover``."""
    if not records:
        return 0
    sources = [r.source for r in records]
    store.put_files([replace(r, state="pending") for r in records])
    store.delete_chunks(sources)
    store.delete_files(sources)
    return len(records)


def sources_to_remove(markers: Iterable[str], paths: Iterable[Path]) -> list[str]:
    """Indexed sources named by ``paths``: the files themselves, or everything under a folder."""
    targets = [Path(source_of(Path(p).expanduser())) for p in paths]
    chosen = [s for s in markers if Path(s) in targets or under(s, targets)]
    if not chosen:
        shown = ", ".join(str(t) for t in targets)
        raise NotFound(f"nothing in the index is at or under {shown}")
    return chosen
