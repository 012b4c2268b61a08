"""A resumable, exactly-once batch job: JSONL in, one embedding (or error) per line out, in input order.

:func:`run_job` plans chunks with one counting pass, embeds the chunks the work dir does not
hold yet (locally, or on Ray: :mod:`omnivec.batch.ray_runner`), checkpoints each one
atomically (:mod:`omnivec.batch.workdir`), and at the end assembles the output in chunk order
and removes the work dir. Killed at any instant and run again with the same arguments, it
continues where it stopped; a rerun after completion returns the recorded summary.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from omnivec.config import Settings
from omnivec.durable import write_atomic
from omnivec.embedder import Embedder
from omnivec.errors import InvalidInput, JobConflict, NotFound
from omnivec.models.base import EmbedOptions, ModelInfo, check_task

from .chunks import ChunkJob, ChunkPlan, ChunkResult, ChunkSpec, embed_chunk, plan_chunks
from .outputs import check_output, open_writer, output_files
from .requests import LineRules
from .workdir import ChunkEntry, WorkDir, differences, job_fingerprint

logger = logging.getLogger(__name__)

Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = ("local", "ray")
Progress = Callable[[int, int], None]  # (rows done, rows in all); called after planning and after each chunk
RecordChunk = Callable[[ChunkResult], None]


@dataclass(frozen=True, slots=True)
class JobOptions:
    model: str = "lite"
    dim: int | None = None  # output width (Matryoshka); None = the model's native width
    task: str | None = None  # task type for lines that do not give a taskType
    auto_truncate: bool = False  # cut text over the token limit instead of failing the row
    batch_size: int = 32  # contents per model call, 1-1024; not part of the fingerprint (may change on resume)
    chunk_size: int = 256  # rows per checkpoint, 1-100000; a kill loses at most one chunk per worker
    restart: bool = False  # discard an interrupted run; an earlier output is replaced when this one finishes
    ray_address: str | None = None  # an existing Ray cluster ("auto", "ray://host:10001"); None starts a local one
    ray_actors: int | None = None  # model replicas on Ray; None = one per CPU of the cluster


@dataclass(frozen=True, slots=True)
class JobSummary:
    input: str
    output: str
    files: tuple[str, ...]  # what was written: the output and, for .npy, its id map
    engine: str
    total: int  # rows (non-blank input lines)
    succeeded: int
    failed: int
    failures_by_status: dict[str, int]  # e.g. {"INVALID_ARGUMENT": 2, "PERMISSION_DENIED": 1}
    model: str
    version: str
    dim: int
    resumed_rows: int  # rows already done by an earlier, interrupted run
    seconds: float  # wall time of this run
    fingerprint: dict[str, Any] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> JobSummary:
        return cls(**{**obj, "files": tuple(obj["files"])})


def summary_path(output: Path) -> Path:
    return output.with_name(output.name + ".summary.json")


def run_job(
    input_path: str | Path,
    output_path: str | Path,
    options: JobOptions | None = None,
    engine: Engine = "local",
    progress: Progress | None = None,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
) -> JobSummary:
    """Embed every line of a JSONL file into ``output_path`` (.jsonl, .parquet or .npy), resumably.

    Args:
        input_path: JSONL, one request per line (see :mod:`omnivec.batch.requests`).
        output_path: the result; its extension picks the format (:mod:`omnivec.batch.outputs`).
        options: model, width, task, batch and chunk sizes, restart, Ray settings.
        engine: ``"local"`` (this process) or ``"ray"`` (Ray Data, local or ``options.ray_address``).
        progress: called with (rows done, rows in all) after planning and after each chunk.
        settings: allowed roots and limits; defaults to ``Settings.from_env()``.
        embedder: reuse a loaded Embedder (its settings apply) instead of loading the model.

    Returns:
        The summary, also written to ``OUTPUT.summary.json``.

    Raises:
        InvalidInput: unknown output extension, engine, task or width.
        NotFound: the input file does not exist.
        JobConflict: the work dir or output belongs to another job; pass ``restart``.
        MissingDependency: pyarrow (.parquet) or Ray (engine "ray") is not installed.
    """
    started = time.perf_counter()
    options = options or JobOptions()
    input_path, output_path = Path(input_path), Path(output_path)
    _check_arguments(input_path, output_path, options, engine)
    embedder = _embedder(options, settings, embedder)
    job, identity = _chunk_job(input_path, options, embedder)
    fingerprint = job_fingerprint(input_path, _fingerprint_params(options, embedder.settings, identity))
    workdir = WorkDir.for_output(output_path)
    if (finished := _open_workdir(workdir, output_path, fingerprint, options.restart)) is not None:
        return finished
    with workdir.locked():
        plan = plan_chunks(job.input_path, options.chunk_size, job.rules.max_line_bytes)
        entries = workdir.compact()
        pending = [c for c in plan.chunks if c.index not in entries]
        resumed = sum(e.rows for e in entries.values())
        if entries:
            logger.info("resuming %s: %d of %d chunks were done", output_path, len(entries), len(plan.chunks))
        _embed_pending(engine, options, embedder, job, pending, _recorder(workdir, entries, plan.total, progress))
        _assemble(output_path, workdir, plan, identity)
        summary = _summary(input_path, output_path, engine, plan, entries, identity, resumed, started, fingerprint)
        write_atomic(summary_path(output_path), json.dumps(summary.to_json(), indent=1).encode())
        workdir.remove()
    return summary


def _check_arguments(input_path: Path, output_path: Path, options: JobOptions, engine: str) -> None:
    check_output(output_path)
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if not input_path.is_file():
        raise NotFound(f"input {input_path} does not exist or is not a file")
    if not output_path.parent.is_dir():
        raise NotFound(f"the output folder {output_path.parent} does not exist; create it first")
    if not 1 <= options.batch_size <= 1024 or not 1 <= options.chunk_size <= 100_000:
        raise InvalidInput("batch size must be 1 to 1024 and chunk size 1 to 100000")


def _embedder(options: JobOptions, settings: Settings | None, embedder: Embedder | None) -> Embedder:
    if embedder is None:
        return Embedder(options.model, settings)  # cheap: the encoders load on first use
    if embedder.model_name != options.model:
        raise InvalidInput(f"the embedder given runs model {embedder.model_name!r}, the options name {options.model!r}")
    return embedder


def _chunk_job(input_path: Path, options: JobOptions, embedder: Embedder) -> tuple[ChunkJob, dict[str, Any]]:
    info: ModelInfo = embedder.info
    width = options.dim or info.dim
    if not 1 <= width <= info.dim:
        raise InvalidInput(f"output dimensionality {width} is out of range; {info.name} gives 1 to {info.dim}")
    defaults = EmbedOptions(task=check_task(options.task), dim=width, auto_truncate=options.auto_truncate)
    # A line may hold the request's media inline: base64 is 4/3 of the bytes, plus room for JSON.
    max_line = embedder.settings.limits.max_request_bytes * 4 // 3 + (1 << 20)
    path = input_path.resolve()
    rules = LineRules(defaults, path.parent, max_line)
    return ChunkJob(path, rules, options.batch_size), info.identity(width)


def _fingerprint_params(options: JobOptions, settings: Settings, identity: dict[str, Any]) -> dict[str, Any]:
    """What decides the output rows: resuming with any of these changed would mix two jobs."""
    return {
        "model": identity["model"], "version": identity["version"], "dim": identity["dim"],
        "task": check_task(options.task), "auto_truncate": options.auto_truncate, "chunk_size": options.chunk_size,
        "allowed_roots": sorted(str(r.resolve()) for r in settings.allowed_roots),
        "limits": asdict(settings.limits),
    }


def _open_workdir(workdir: WorkDir, output: Path, fingerprint: dict[str, Any], restart: bool) -> JobSummary | None:
    """Create or check the work dir; a summary when this exact job already finished."""
    if restart and workdir.exists():
        # Only the interrupted run is discarded here: an earlier output stays in place until
        # the new run's output replaces it, so a restart that fails loses nothing.
        workdir.remove()
    workdir.remove_leftovers()
    if not workdir.exists():
        if not restart:
            if (finished := _finished(output, fingerprint)) is not None:
                logger.info("%s is already complete", output)
                return finished
            _refuse_existing(output, fingerprint)
        workdir.create(fingerprint)
    workdir.check(fingerprint)
    return None


def _read_summary(output: Path) -> JobSummary | None:
    try:
        return JobSummary.from_json(json.loads(summary_path(output).read_text()))
    except (OSError, ValueError, TypeError, KeyError):  # absent, or written by another omnivec version
        return None


def _refuse_existing(output: Path, fingerprint: dict[str, Any]) -> None:
    existing = [str(p) for p in output_files(output) if p.exists()]
    if not existing:
        return
    earlier = _read_summary(output)
    why = "holds another job's result: " + differences(earlier.fingerprint, fingerprint) if earlier else "was not written by this job"
    raise JobConflict(f"{', '.join(existing)} {why}; pass --restart to replace it")



def _finished(output: Path, fingerprint: dict[str, Any]) -> JobSummary | None:
    if not all(p.exists() for p in output_files(output)):
        return None
    summary = _read_summary(output)
    if summary is None or summary.fingerprint != fingerprint:
        return None
    return replace(summary, resumed_rows=summary.total, seconds=0.0)  # every row was done by the earlier run


def _recorder(workdir: WorkDir, entries: dict[int, ChunkEntry], total: int, progress: Progress | None) -> RecordChunk:
    """Checkpoint each finished chunk (and report progress); chunks may arrive in any order."""
    done = sum(e.rows for e in entries.values())
    if progress:
        progress(done, total)

    def record(result: ChunkResult) -> None:
        nonlocal done
        statuses = Counter(r.error.status for r in result.rows if r.error)
        entry = ChunkEntry(result.index, len(result.rows), result.failed, dict(sorted(statuses.items())))
        workdir.save_chunk(entry, result.to_bytes())
        if result.index not in entries:  # Ray may deliver a retried chunk twice; count it once
            entries[result.index] = entry
            done += entry.rows
        if progress:
            progress(done, total)

    return record


def _embed_pending(
    engine: Engine, options: JobOptions, embedder: Embedder, job: ChunkJob, pending: Sequence[ChunkSpec],
    record: RecordChunk,
) -> None:
    if not pending:
        return
    if engine == "ray":
        from .ray_runner import RayOptions, run_on_ray

        ray_options = RayOptions(options.ray_address, options.ray_actors)
        run_on_ray(job, embedder.model_name, embedder.settings, pending, record, ray_options)
        return
    for spec in pending:
        record(embed_chunk(embedder, job, spec))


def _summary(
    input_path: Path, output: Path, engine: str, plan: ChunkPlan, entries: dict[int, ChunkEntry],
    identity: dict[str, Any], resumed: int, started: float, fingerprint: dict[str, Any],
) -> JobSummary:
    statuses: Counter[str] = Counter()
    for entry in entries.values():
        statuses.update(entry.statuses)
    failed = sum(e.failed for e in entries.values())
    return JobSummary(
        str(input_path), str(output), tuple(str(p) for p in output_files(output)), engine, plan.total,
        plan.total - failed, failed, dict(sorted(statuses.items())), identity["model"], identity["version"],
        identity["dim"], resumed, round(time.perf_counter() - started, 3), fingerprint,
    )


def _assemble(output: Path, workdir: WorkDir, plan: ChunkPlan, identity: dict[str, Any]) -> None:
    """Write the output in chunk order, one chunk in memory at a time, and move it into place."""
    writer = open_writer(output, workdir, plan.total, identity)
    for spec in plan.chunks:
        writer.add(ChunkResult.from_bytes(workdir.load_chunk(spec.index)))
    writer.commit()
