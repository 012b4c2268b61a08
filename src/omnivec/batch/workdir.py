"""The work dir of a batch job (``OUTPUT.partial/``): fingerprint, manifest and chunk files.

Everything here survives ``kill -9`` at any instant. A file is written to a temporary name,
fsynced and renamed over its final name, so it is either absent or whole. The work dir itself
appears by renaming a complete temporary folder, so it always holds ``job.json``, the job's
fingerprint. ``manifest.jsonl`` gets one fsynced line per finished chunk *after* the chunk's
file is in place; a line torn by a kill is dropped when the job resumes, and that chunk is
simply embedded again (same input, same vectors). Layout::

    OUTPUT.partial/
      job.json            fingerprint: input size + hashes of its first and last MiB, options, model version
      manifest.jsonl      {"chunk": 12, "rows": 256, "failed": 1, "statuses": {"INVALID_ARGUMENT": 1}}
      chunks/000012.npz   vectors (rows, width) float32 + the rows (line, key, error)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnivec.durable import fsync_path, write_atomic
from omnivec.errors import JobConflict

_FORMAT = 1  # bump when the chunk or manifest layout changes
_EDGE = 1 << 20  # bytes hashed at each end of the input


def input_fingerprint(path: Path) -> dict[str, Any]:
    """Size and hashes of the first and last MiB: cheap on a 100 GB input, and catches edits and appends."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = hashlib.sha256(f.read(_EDGE)).hexdigest()
        f.seek(max(0, size - _EDGE))
        tail = hashlib.sha256(f.read(_EDGE)).hexdigest()
    return {"size": size, "head_sha256": head, "tail_sha256": tail}


def job_fingerprint(input_path: Path, params: dict[str, Any]) -> dict[str, Any]:
    # A JSON round trip makes tuples lists, so a fingerprint read back compares equal.
    fingerprint = {"format": _FORMAT, "input": input_fingerprint(input_path), "job": params}
    return dict(json.loads(json.dumps(fingerprint)))


def differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two job fingerprints, in words."""
    if old.get("format") != new.get("format"):
        return f"it was written by another omnivec version (work dir format {old.get('format')} -> {new['format']})"
    if old.get("input") != new["input"]:
        return f"the input file changed since the job started (size {old['input']['size']} -> {new['input']['size']}, or its first or last MiB)"
    was, now = old.get("job", {}), new["job"]
    changed = [f"{k}: {was.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
    return "the options differ (" + "; ".join(changed) + ")"


@dataclass(frozen=True, slots=True)
class ChunkEntry:
    chunk: int
    rows: int
    failed: int
    statuses: dict[str, int]  # failed rows by Gemini status

    def to_json(self) -> dict[str, Any]:
        return {"chunk": self.chunk, "rows": self.rows, "failed": self.failed, "statuses": self.statuses}


@dataclass(frozen=True, slots=True)
class WorkDir:
    path: Path  # OUTPUT.partial

    @classmethod
    def for_output(cls, output: Path) -> WorkDir:
        return cls(output.with_name(output.name + ".partial"))

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.jsonl"

    def chunk_file(self, index: int) -> Path:
        return self.path / "chunks" / f"{index:06d}.npz"

    def scratch(self, name: str) -> Path:
        """A file inside the work dir for assembling outputs (same filesystem: os.replace is atomic)."""
        return self.path / f"{name}.tmp-{os.getpid()}"

    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self, fingerprint: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.new-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "chunks").mkdir(parents=True)
        write_atomic(tmp / "job.json", json.dumps(fingerprint, indent=1).encode())
        (tmp / "manifest.jsonl").touch()
        os.replace(tmp, self.path)
        fsync_path(self.path.parent)

    def check(self, fingerprint: dict[str, Any]) -> None:
        """Raise JobConflict, saying what differs, unless this work dir is of the same job."""
        old = json.loads((self.path / "job.json").read_text())
        if old != fingerprint:
            raise JobConflict(
                f"{self.path} holds a job that cannot be resumed: {differences(old, fingerprint)}; "
                "rerun with the original input and options, or pass --restart to start over"
            )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the job for this process; the lock dies with it, so a kill -9 never leaves it stuck."""
        with (self.path / "lock").open("a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JobConflict(f"another run of this job is writing {self.path}; wait for it or stop it") from None
            yield

    def done(self) -> dict[int, ChunkEntry]:
        """Finished chunks (read only: a line torn by a kill, or a chunk without its file, is skipped)."""
        entries: dict[int, ChunkEntry] = {}
        for line in self.manifest.read_text().splitlines():
            try:
                entry = ChunkEntry(**json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue  # the last line, cut by a kill: that chunk is embedded again
            if self.chunk_file(entry.chunk).is_file():
                entries[entry.chunk] = entry
        return entries

    def compact(self) -> dict[int, ChunkEntry]:
        """Finished chunks, with the manifest rewritten without a torn line (so appends start on a fresh line)."""
        entries = self.done()
        write_atomic(self.manifest, "".join(json.dumps(e.to_json()) + "\n" for e in entries.values()).encode())
        return entries

    def save_chunk(self, entry: ChunkEntry, data: bytes) -> None:
        """Put a chunk's file in place, then record it (in that order: a recorded chunk always has its file)."""
        write_atomic(self.chunk_file(entry.chunk), data)
        with self.manifest.open("a") as f:
            f.write(json.dumps(entry.to_json()) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def load_chunk(self, index: int) -> bytes:
        return self.chunk_file(index).read_bytes()

    def remove(self) -> None:
        """Rename first, so a kill during the delete never leaves a work dir without job.json."""
        trash = self.path.with_name(f".{self.path.name}.trash-{os.getpid()}")
        os.replace(self.path, trash)
        shutil.rmtree(trash)

    def remove_leftovers(self) -> None:
        """Folders a killed run left half-created or half-deleted."""
        for stale in self.path.parent.glob(f".{self.path.name}.*-*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
