"""The Gemini batch API for embeddings: jobs created by ``asyncBatchEmbedContent``, run in the background.

What google-genai 3.x sends and reads (``batches.py``, ``_transformers.py``; checked by capturing
its requests): ``client.batches.create_embeddings`` posts
``/v1/models/{model}:asyncBatchEmbedContent`` with ``{"batch": {"displayName", "inputConfig":
{"requests": {"requests": [{"request": {"content", "taskType", "title",
"outputDimensionality"}}]}}}}`` (one entry per content, the config repeated in each), or with
``"inputConfig": {"file_name": "files/<id>"}`` (snake_case; Google documents ``fileName``, both are
accepted). It reads only ``name`` and ``metadata.{displayName, state, createTime, updateTime,
endTime, model, output}`` of the long-running Operation returned here and by
``GET /v1/batches/{id}``; ``BATCH_STATE_*`` becomes ``JOB_STATE_*``; ``metadata.output`` is
``{"inlinedResponses": {"inlinedResponses": [{"response": {"embedding": {"values"}}} |
{"error": google.rpc.Status}]}}`` (renamed ``inlined_embed_content_responses`` by the client) or
``{"responsesFile": "files/batch-<id>"}``, which ``client.files.download`` fetches from
``GET /v1/files/batch-<id>:download?alt=media``. ``batches.list`` reads ``operations`` and
``nextPageToken``; ``cancel`` and ``delete`` need only a 2xx. ``batchStats`` (int64 as strings)
is sent for REST users; the client does not parse it.

Each job lives in ``<data_dir>/batches/<id>/``: ``batch.json`` (the record, replaced atomically),
``input.jsonl`` (one Gemini request per line), run_job's ``output.jsonl`` and, for file sources,
``responses.jsonl`` in Google's format. One worker thread runs one job at a time with
:func:`~omnivec.batch.run_job`, whose model calls run on the server's model thread between online
requests. Jobs survive restarts: ``run_job`` resumes from its checkpoints, exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from omnivec.api.auth import request_owner
from omnivec.api.gemini import Parsed, Sources, located, parse_requests, served_of, sources_of
from omnivec.api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, page_of
from omnivec.api.responses import VectorResponse
from omnivec.api.schemas import EmbedContentRequest, GeminiModel
from omnivec.api.served import ServedModel
from omnivec.api.settings import ConfigError
from omnivec.batch import JobConflict, JobOptions, JobSummary, Progress, run_job
from omnivec.batch.workdir import WorkDir
from omnivec.content import Content, Part
from omnivec.durable import fsync_path, write_atomic
from omnivec.embedder import Embedder
from omnivec.errors import InvalidInput, NotFound, OmnivecError, Unavailable
from omnivec.models.base import Embeddings, EmbedOptions, Model

logger = logging.getLogger(__name__)

BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatchOutput"
CHUNK_ROWS = 32  # rows per checkpoint: a restart redoes at most this many
BATCH_SIZE = 16  # contents per model call: online requests wait behind at most this many
PROGRESS_SECONDS = 1.0  # batch.json is rewritten with progress at most this often
ID_PATTERN = re.compile(r"[a-z0-9]{1,40}")
# Files in a job's folder.
RECORD = "batch.json"  # the BatchRecord
INPUT = "input.jsonl"  # one Gemini request per line; removed when the job ends
OUTPUT = "output.jsonl"  # run_job's rows; kept as the results of inline jobs
RESPONSES = "responses.jsonl"  # the results of file jobs in Google's format (files/batch-<id>)
METADATA = "metadata.json"  # the metadata of inline requests, when any was given

State = Literal[
    "BATCH_STATE_PENDING",
    "BATCH_STATE_RUNNING",
    "BATCH_STATE_SUCCEEDED",
    "BATCH_STATE_FAILED",
    "BATCH_STATE_CANCELLED",
]
QUEUED: tuple[State, ...] = ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")

# google.rpc.Code numbers, for the Status of a failed row or job (HTTP errors use HTTP codes).
GRPC_CODES: dict[str, int] = {
    "CANCELLED": 1,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}


# -- request bodies ---------------------------------------------------------------------------------
class InlinedEmbedRequest(GeminiModel):
    request: EmbedContentRequest
    metadata: dict[str, Any] | None = None  # echoed in the row's response


class InlinedEmbedRequests(GeminiModel):
    requests: list[InlinedEmbedRequest]


class EmbedInputConfig(GeminiModel):
    file_name: str | None = None  # a JSONL file uploaded through the Files API
    requests: InlinedEmbedRequests | None = None


class EmbedContentBatchIn(GeminiModel):
    model: str | None = None
    display_name: str | None = None
    input_config: EmbedInputConfig
    priority: int | str | None = None  # accepted and ignored: jobs run in the order they arrive


class AsyncBatchEmbedContentRequest(GeminiModel):
    batch: EmbedContentBatchIn


# -- the job record -----------------------------------------------------------------------------------
@dataclass(slots=True)
class BatchRecord:
    """One batch job as kept in ``batch.json``; counts are rows (input requests)."""

    id: str
    model: str  # "models/<name as requested>"
    display_name: str | None
    source: Literal["inline", "file"]
    input_file: str | None  # "files/<id>" for file sources
    state: State
    create_time: str  # RFC 3339
    update_time: str
    end_time: str | None
    request_count: int
    done_count: int  # rows finished, with a vector or an error
    failed_count: int
    dim: int | None  # output width; None = the model's
    auto_truncate: bool
    chunk_size: int
    error: dict[str, Any] | None = None  # why the job failed: a google.rpc.Status
    owner: str | None = None  # owner id of the creating API key (auth.owner_of_key); None without keys

    @property
    def name(self) -> str:
        return f"batches/{self.id}"

    @property
    def results_file(self) -> str:
        return f"files/batch-{self.id}"


@dataclass(frozen=True, slots=True)
class JobInput:
    """A validated batch, ready to be written as the job's input."""

    source: Literal["inline", "file"]
    input_file: str | None
    lines: list[bytes]  # one JSON request per line, without newlines
    dim: int | None
    auto_truncate: bool
    metadata: list[dict[str, Any] | None] | None  # per row, for inline requests that carry it


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _uniform(values: Sequence[Any], field: str) -> Any:
    """The one value the rows that give ``field`` agree on (None when no row gives it)."""
    given = sorted({v for v in values if v is not None}, key=repr)
    if len(given) > 1:
        raise InvalidInput(
            f"the requests of a batch must agree on {field} (found {', '.join(map(repr, given))}): "
            f"omnivec runs a batch with one {field}; split the batch by {field}"
        )
    return given[0] if given else None


# -- inline requests -> input lines -------------------------------------------------------------------
def _part_json(part: Part) -> dict[str, Any]:
    if part.text is not None:
        return {"text": part.text}
    if part.data is not None:
        return {"inlineData": {"mimeType": part.mime_type, "data": base64.b64encode(part.data).decode()}}
    return {"fileData": {"fileUri": str(part.path), "mimeType": part.mime_type or ""}}  # resolved, allowed


def _request_line(parsed: Parsed, key: int) -> bytes:
    options = parsed.item.options
    request: dict[str, Any] = {"content": {"parts": [_part_json(p) for p in parsed.item.content.parts]}}
    if options.task is not None:
        request["taskType"] = options.task
    if options.title is not None:
        request["title"] = options.title
    return json.dumps({"key": str(key), "request": request}).encode()


def parse_inline(
    requests: Sequence[InlinedEmbedRequest], url_model: str, served: ServedModel, sources: Sources
) -> JobInput:
    """Validate inlined requests as ``batchEmbedContents`` does; uploaded files they name are inlined."""
    if not requests:
        raise InvalidInput("batch.inputConfig.requests.requests is empty; send at least one request")
    parsed: list[Parsed] = []
    for i, entry in enumerate(requests):
        with located(f"batch.inputConfig.requests.requests[{i}].request"):
            if entry.request.omnivec_segments or entry.request.omnivec_quantization is not None:
                raise InvalidInput("omnivecSegments and omnivecQuantization are not available in batches")
            parsed.extend(parse_requests([entry.request], "", url_model, served, sources))
    metadata = [e.metadata for e in requests]
    return JobInput(
        "inline",
        None,
        [_request_line(p, i) for i, p in enumerate(parsed)],
        _uniform([p.item.options.dim for p in parsed], "outputDimensionality"),
        bool(_uniform([p.item.options.auto_truncate for p in parsed], "autoTruncate")),
        metadata if any(m is not None for m in metadata) else None,
    )


# -- an uploaded JSONL file -> input lines ------------------------------------------------------------
def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    return obj[camel] if camel in obj else obj.get(snake)


def _request_of(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    request = obj.get("request", obj)
    return request if isinstance(request, dict) else None


def _inline_uploads(request: dict[str, Any], sources: Sources) -> None:
    """Replace ``fileData`` naming a file uploaded here by its bytes: run_job reads only local paths."""
    content = request.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return
    for i, part in enumerate(parts):
        ref = _field(part, "fileData", "file_data") if isinstance(part, dict) else None
        if not isinstance(ref, dict) or not isinstance(uri := _field(ref, "fileUri", "file_uri"), str):
            continue
        if (name := sources.store.name_of_uri(uri, sources.host)) is not None:
            record, data = sources.store.read(name, sources.owner)
            mime = _field(ref, "mimeType", "mime_type") or record.mime_type
            parts[i] = {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def parse_file(name: str, sources: Sources) -> JobInput:
    """Lines of an uploaded JSONL file; a line that is not a request is kept, to fail as its own row.

    Raises:
        NotFound: the file, or an uploaded file a line names, does not exist.
    """
    _, data = sources.store.read(name, sources.owner)
    lines: list[bytes] = []
    dims: list[Any] = []
    truncates: list[Any] = []
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            lines.append(raw)
            continue
        if (request := _request_of(obj)) is not None:
            with located(f"{name} line {number}"):
                _inline_uploads(request, sources)
            dim = _field(request, "outputDimensionality", "output_dimensionality")
            truncate = _field(request, "autoTruncate", "auto_truncate")
            dims.append(dim if isinstance(dim, int) else None)  # anything else fails as its row
            truncates.append(truncate if isinstance(truncate, bool) else None)
        lines.append(json.dumps(obj).encode())
    if not lines:
        raise InvalidInput(f"{name} holds no requests; send one JSON request per line")
    dim, truncate = _uniform(dims, "outputDimensionality"), _uniform(truncates, "autoTruncate")
    return JobInput("file", name, lines, dim, bool(truncate), None)


# -- results --------------------------------------------------------------------------------------------
def _status(error: dict[str, Any]) -> dict[str, Any]:
    """A row error of run_job as a google.rpc.Status."""
    return {"code": GRPC_CODES.get(error.get("status", ""), 2), "message": error.get("message", "")}


def row_response(row: dict[str, Any]) -> dict[str, Any]:
    if "error" in row:
        return {"error": _status(row["error"])}
    return {"response": {"embedding": {"values": row["values"]}}}


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def inlined_responses(output: Path, metadata: Path) -> list[dict[str, Any]]:
    extra = json.loads(metadata.read_text()) if metadata.exists() else None
    responses = [row_response(row) for row in read_rows(output)]
    for response, meta in zip(responses, extra or [], strict=False):
        if meta is not None:
            response["metadata"] = meta
    return responses


def write_responses_file(output: Path, target: Path) -> None:
    """run_job's rows -> Google's responses file: ``{"key", "response" | "error"}`` per line, in order."""
    scratch = target.with_name(target.name + ".tmp")
    with scratch.open("w", encoding="utf-8") as f:
        for row in read_rows(output):
            key = {"key": row["key"]} if row.get("key") is not None else {}
            f.write(json.dumps({**key, **row_response(row)}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(scratch, target)
    fsync_path(target.parent)


def operation(record: BatchRecord, output: dict[str, Any] | None) -> dict[str, Any]:
    """The long-running Operation for a batch: the EmbedContentBatch in ``metadata``."""
    stats = {
        "requestCount": str(record.request_count),
        "successfulRequestCount": str(record.done_count - record.failed_count),
        "failedRequestCount": str(record.failed_count),
        "pendingRequestCount": str(record.request_count - record.done_count),
    }
    batch: dict[str, Any] = {
        "@type": BATCH_TYPE,
        "model": record.model,
        "name": record.name,
        "createTime": record.create_time,
        "updateTime": record.update_time,
        "batchStats": stats,
        "state": record.state,
    }
    if record.display_name:
        batch["displayName"] = record.display_name
    if record.input_file:
        batch["inputConfig"] = {"fileName": record.input_file}
    if record.end_time:
        batch["endTime"] = record.end_time
    if output is not None:
        batch["output"] = output
    body: dict[str, Any] = {"name": record.name, "metadata": batch, "done": record.state not in QUEUED}
    if output is not None:
        body["response"] = {"@type": OUTPUT_TYPE, **output}
    elif record.state == "BATCH_STATE_FAILED":
        body["error"] = record.error or {"code": GRPC_CODES["INTERNAL"], "message": "the batch failed"}
    elif record.state == "BATCH_STATE_CANCELLED":
        body["error"] = {"code": GRPC_CODES["CANCELLED"], "message": "the batch was cancelled"}
    return body


def job_error(exc: Exception) -> dict[str, Any]:
    """Why a job failed, as a google.rpc.Status; the details of unexpected errors stay in the log."""
    if isinstance(exc, OmnivecError):
        return {"code": GRPC_CODES.get(exc.status, 2), "message": exc.message}
    return {"code": GRPC_CODES["INTERNAL"], "message": "internal error; the server log has the details"}


# -- the worker -----------------------------------------------------------------------------------------
class JobInterrupted(Unavailable):
    """The running job was cancelled or deleted, or the server is stopping (a 5xx, so run_job stops)."""


class _QueuedEmbedder(Embedder):
    """The served model, with each model call run on the server's model thread, between online batches."""

    def __init__(self, served: ServedModel, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
        super().__init__(served.embedder.model_name, served.embedder.settings)
        self._served, self._loop, self._stop = served, loop, stop

    @property
    def model(self) -> Model:
        return self._served.embedder.model

    def embed_contents(
        self,
        contents: list[Content],
        options: EmbedOptions,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> Embeddings:
        if self._stop.is_set():
            raise JobInterrupted("the batch was interrupted")
        embed = self._served.embedder.embed_contents
        call = self._served.batcher.run_in_worker(lambda: embed(contents, options, batch_size))
        result = asyncio.run_coroutine_threadsafe(call, self._loop).result()
        assert isinstance(result, Embeddings)
        if progress:
            progress(len(contents))
        return result


class BatchRegistry:
    """Batch jobs under ``root``: their records, and the one thread that runs them in order."""

    def __init__(self, root: Path, served: ServedModel) -> None:
        self.root = root
        self._served = served
        self._records: dict[str, BatchRecord] = {}
        self._lock = threading.Condition()
        self._stopping = False
        self._running: tuple[str, threading.Event] | None = None  # job id, its stop flag
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner: IO[str] | None = None  # holds the lock on root while this server runs its jobs

    # -- lifecycle ------------------------------------------------------------------------------------
    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Load the records, drop half-written or deleted folders, start the worker (resuming jobs).

        Raises:
            ConfigError: another server runs the jobs of this data dir.
        """
        self._loop = loop
        self.root.mkdir(parents=True, exist_ok=True)
        self._take_ownership()
        for folder in self.root.iterdir():
            record = folder / RECORD
            if not folder.is_dir():
                continue
            if folder.name.startswith(".") or not record.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                continue
            obj = json.loads(record.read_text())
            self._records[obj["id"]] = BatchRecord(**obj)
        queued = sum(r.state in QUEUED for r in self._records.values())
        if queued:
            logger.info("resuming %d batch jobs from %s", queued, self.root)
        self._thread = threading.Thread(target=self._work, name="omnivec-batches", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        """Stop the running job at its next model call (it stays RUNNING, to resume) and the worker."""
        with self._lock:
            self._stopping = True
            if self._running is not None:
                self._running[1].set()
            self._lock.notify_all()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self._owner is not None:
            self._owner.close()  # releases the lock

    def _take_ownership(self) -> None:
        """One server per data dir runs its jobs: two would run each job twice and overwrite records."""
        self._owner = (self.root / "owner.lock").open("a")
        try:
            fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._owner.close()
            raise ConfigError(
                f"another omnivec server runs the batch jobs in {self.root}; give each server its own "
                "data dir (--data-dir or OMNIVEC_DATA_DIR)"
            ) from None

    # -- requests ---------------------------------------------------------------------------------------
    def create(
        self, model: str, display_name: str | None, job: JobInput, owner: str | None = None
    ) -> BatchRecord:
        now = _now()
        record = BatchRecord(
            id=secrets.token_hex(8),
            model=model,
            display_name=display_name,
            source=job.source,
            input_file=job.input_file,
            state="BATCH_STATE_PENDING",
            create_time=now,
            update_time=now,
            end_time=None,
            request_count=len(job.lines),
            done_count=0,
            failed_count=0,
            dim=job.dim,
            auto_truncate=job.auto_truncate,
            chunk_size=CHUNK_ROWS,
            owner=owner,
        )
        staging = self.root / f".new-{record.id}"
        staging.mkdir()
        write_atomic(staging / INPUT, b"".join(line + b"\n" for line in job.lines))
        if job.metadata is not None:
            write_atomic(staging / METADATA, json.dumps(job.metadata).encode())
        write_atomic(staging / RECORD, json.dumps(asdict(record)).encode())
        staging.rename(self._folder(record.id))
        fsync_path(self.root)
        with self._lock:
            self._records[record.id] = record
            self._lock.notify_all()
        logger.info("batch %s created: %d requests (%s)", record.name, record.request_count, record.source)
        return replace(record)

    def get(self, batch_id: str, owner: str | None = None) -> BatchRecord:
        with self._lock:
            return replace(self._find(batch_id, owner))

    def list(self, owner: str | None = None) -> list[BatchRecord]:
        """The jobs ``owner`` created; other keys' jobs are not listed."""
        with self._lock:
            records = [replace(r) for r in self._records.values() if r.owner == owner]
        return sorted(records, key=lambda r: (r.create_time, r.id), reverse=True)

    def cancel(self, batch_id: str, owner: str | None = None) -> BatchRecord:
        """Cancel a pending or running job; a finished one is left as it is."""
        with self._lock:
            record = self._find(batch_id, owner)
            if record.state not in QUEUED:
                return replace(record)
            record.state, record.end_time = "BATCH_STATE_CANCELLED", _now()
            self._save(record)
            running = self._stop_if_running(batch_id)
        logger.info(
            "batch %s cancelled after %d of %d rows", record.name, record.done_count, record.request_count
        )
        if not running:
            self._discard_work(batch_id)
        return replace(record)

    def delete(self, batch_id: str, owner: str | None = None) -> None:
        """Forget a job and its files; a running one is stopped first (by the worker, which then removes them)."""
        with self._lock:
            self._find(batch_id, owner)
            del self._records[batch_id]
            (self._folder(batch_id) / RECORD).unlink()
            running = self._stop_if_running(batch_id)
        logger.info("batch batches/%s deleted", batch_id)
        if not running:
            shutil.rmtree(self._folder(batch_id), ignore_errors=True)

    def output(self, record: BatchRecord) -> dict[str, Any] | None:
        """``EmbedContentBatchOutput`` of a succeeded job (inlined responses are read from disk)."""
        if record.state != "BATCH_STATE_SUCCEEDED":
            return None
        if record.source == "file":
            return {"responsesFile": record.results_file}
        folder = self._folder(record.id)
        try:
            responses = inlined_responses(folder / OUTPUT, folder / METADATA)
        except FileNotFoundError:
            raise NotFound(f"{record.name} was deleted") from None
        return {"inlinedResponses": {"inlinedResponses": responses}}

    def results_path(self, file_id: str, owner: str | None = None) -> Path:
        """The responses file ``files/batch-<id>`` of a succeeded file-source job."""
        batch_id = file_id.removeprefix("batch-")
        with self._lock:
            record = self._records.get(batch_id) if file_id.startswith("batch-") else None
        if (
            record is None
            or record.owner != owner
            or record.state != "BATCH_STATE_SUCCEEDED"
            or record.source != "file"
        ):
            raise NotFound(
                f"files/{file_id} cannot be downloaded: only the results of a succeeded batch with a file "
                "input (files/batch-<id>, its output.responsesFile) can be; uploaded files are not served back"
            )
        return self._folder(batch_id) / RESPONSES

    # -- internals (call with the lock held) ------------------------------------------------------------
    def _folder(self, batch_id: str) -> Path:
        return self.root / batch_id

    def _find(self, batch_id: str, owner: str | None) -> BatchRecord:
        """The job if ``owner`` created it; another key's job is reported as missing, like a file."""
        record = self._records.get(batch_id) if ID_PATTERN.fullmatch(batch_id) else None
        if record is None or record.owner != owner:
            raise NotFound(f"batches/{batch_id} does not exist (deleted, or never created here)")
        return record

    def _save(self, record: BatchRecord) -> None:
        record.update_time = _now()
        write_atomic(self._folder(record.id) / RECORD, json.dumps(asdict(record)).encode())

    def _stop_if_running(self, batch_id: str) -> bool:
        if self._running is None or self._running[0] != batch_id:
            return False
        self._running[1].set()
        return True

    def _discard_work(self, batch_id: str, keep: tuple[str, ...] = ()) -> None:
        """Every file of a job but its record and ``keep`` (the folder may be gone: a delete raced)."""
        folder = self._folder(batch_id)
        for path in list(folder.iterdir()) if folder.is_dir() else []:
            if path.name not in (RECORD, *keep):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    # -- the worker thread --------------------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._next()) is not None:
            self._run(*job)

    def _next(self) -> tuple[BatchRecord, threading.Event] | None:
        with self._lock:
            while not self._stopping:
                queued = [r for r in self._records.values() if r.state in QUEUED]
                if queued:
                    record = min(queued, key=lambda r: (r.create_time, r.id))
                    record.state = "BATCH_STATE_RUNNING"
                    self._save(record)
                    self._running = (record.id, threading.Event())
                    return replace(record), self._running[1]
                self._lock.wait()
            return None

    def _run(self, record: BatchRecord, stop: threading.Event) -> None:
        try:
            summary = self._run_job(record, stop)
        except JobInterrupted:
            self._settle(record.id, None, None)
        except Exception as exc:
            logger.exception("batch %s failed", record.name)
            self._settle(record.id, None, job_error(exc))
        else:
            self._settle(record.id, summary, None)

    def _run_job(self, record: BatchRecord, stop: threading.Event) -> JobSummary:
        """run_job on the job's folder (resuming it), then the responses file of a file job."""
        assert self._loop is not None
        folder = self._folder(record.id)
        options = JobOptions(
            model=self._served.embedder.model_name,
            dim=record.dim,
            auto_truncate=record.auto_truncate,
            batch_size=BATCH_SIZE,
            chunk_size=record.chunk_size,
        )
        embedder = _QueuedEmbedder(self._served, self._loop, stop)
        progress = self._progress(record.id, stop)
        try:
            summary = run_job(folder / INPUT, folder / OUTPUT, options, progress=progress, embedder=embedder)
        except JobConflict as exc:  # the server restarted with other limits or allowed roots
            logger.warning("batch %s starts over: %s", record.name, exc.message)
            options = replace(options, restart=True)
            summary = run_job(folder / INPUT, folder / OUTPUT, options, progress=progress, embedder=embedder)
        if record.source == "file":
            write_responses_file(folder / OUTPUT, folder / RESPONSES)
        return summary

    def _progress(self, batch_id: str, stop: threading.Event) -> Progress:
        workdir = WorkDir.for_output(self._folder(batch_id) / OUTPUT)
        last = 0.0

        def report(done: int, total: int) -> None:
            nonlocal last
            if stop.is_set():
                raise JobInterrupted("the batch was interrupted")
            persist = time.monotonic() - last >= PROGRESS_SECONDS
            failed = sum(e.failed for e in workdir.done().values()) if persist else None
            with self._lock:
                record = self._records.get(batch_id)
                if record is None:
                    return
                record.done_count, record.request_count = done, total
                if failed is not None:
                    record.failed_count = failed
                    self._save(record)
                    last = time.monotonic()

        return report

    def _settle(self, batch_id: str, summary: JobSummary | None, error: dict[str, Any] | None) -> None:
        """Record how the run ended, unless the job was cancelled, deleted or the server is stopping."""
        with self._lock:
            self._running = None
            record = self._records.get(batch_id)
            if record is None:  # deleted while it ran
                shutil.rmtree(self._folder(batch_id), ignore_errors=True)
                return
            if record.state == "BATCH_STATE_CANCELLED":
                self._discard_work(batch_id)
                return
            if summary is None and error is None:  # stopping: resume at the next start
                self._save(record)
                logger.info(
                    "batch %s stopped after %d rows; it resumes at the next start",
                    record.name,
                    record.done_count,
                )
                return
            record.end_time = _now()
            if summary is not None:
                record.state, record.request_count = "BATCH_STATE_SUCCEEDED", summary.total
                record.done_count, record.failed_count = summary.total, summary.failed
            else:
                record.state, record.error = "BATCH_STATE_FAILED", error
            self._save(record)
            logger.info("batch %s ended: %s", record.name, record.state)
        results = (RESPONSES,) if record.source == "file" else (OUTPUT, METADATA)
        self._discard_work(batch_id, results if summary is not None else ())


# -- routes ---------------------------------------------------------------------------------------------
router = APIRouter()


def registry_of(request: Request) -> BatchRegistry:
    registry: BatchRegistry = request.app.state.batches
    return registry


def _has_media(requests: Sequence[InlinedEmbedRequest]) -> bool:
    return any(p.text is None for r in requests for p in r.request.content.parts)


async def _job_input(config: EmbedInputConfig, url_model: str, request: Request) -> JobInput:
    if (config.file_name is None) == (config.requests is None):
        raise InvalidInput("batch.inputConfig needs exactly one of fileName and requests")
    sources = sources_of(request)
    if config.file_name is not None:
        return await asyncio.to_thread(parse_file, config.file_name, sources)
    assert config.requests is not None
    args = (config.requests.requests, url_model, served_of(request), sources)
    if _has_media(config.requests.requests):
        return await asyncio.to_thread(parse_inline, *args)  # base64 and sniffing off the event loop
    return parse_inline(*args)


@router.post("/v1beta/models/{model}:asyncBatchEmbedContent")
@router.post("/v1/models/{model}:asyncBatchEmbedContent", include_in_schema=False)
async def async_batch_embed_content(
    model: str, body: AsyncBatchEmbedContentRequest, request: Request
) -> JSONResponse:
    """Create a batch job; answers at once with its Operation (state ``BATCH_STATE_PENDING``)."""
    served = served_of(request)
    url_model = served.resolve(model)
    if body.batch.model is not None and served.resolve(body.batch.model) != url_model:
        raise InvalidInput(f"batch.model {body.batch.model!r} differs from the model in the URL")
    job = await _job_input(body.batch.input_config, url_model, request)
    name = f"models/{model.removeprefix('models/')}"
    record = await asyncio.to_thread(
        registry_of(request).create, name, body.batch.display_name, job, request_owner(request.scope)
    )
    return JSONResponse(operation(record, None))


@router.get("/v1beta/batches/{batch_id}")
@router.get("/v1/batches/{batch_id}", include_in_schema=False)
async def get_batch(batch_id: str, request: Request) -> VectorResponse:
    registry = registry_of(request)
    record = registry.get(batch_id, request_owner(request.scope))
    output = await asyncio.to_thread(registry.output, record)
    return VectorResponse(operation(record, output))


@router.get("/v1beta/batches")
@router.get("/v1/batches", include_in_schema=False)
async def list_batches(
    request: Request,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
) -> JSONResponse:
    """Newest first; inlined responses are left out (get a batch to read them), a responses file is named."""
    records = registry_of(request).list(request_owner(request.scope))
    return JSONResponse(page_of(records, page_size, page_token, "operations", lambda r: operation(r, _named_output(r))))


def _named_output(record: BatchRecord) -> dict[str, Any] | None:
    if record.state == "BATCH_STATE_SUCCEEDED" and record.source == "file":
        return {"responsesFile": record.results_file}
    return None



@router.post("/v1beta/batches/{batch_id}:cancel")
@router.post("/v1/batches/{batch_id}:cancel", include_in_schema=False)
async def cancel_batch(batch_id: str, request: Request) -> JSONResponse:
    """Cancel a pending or running batch (its partial results are discarded); a finished one is unchanged."""
    await asyncio.to_thread(registry_of(request).cancel, batch_id, request_owner(request.scope))
    return JSONResponse({})


@router.delete("/v1beta/batches/{batch_id}")
@router.delete("/v1/batches/{batch_id}", include_in_schema=False)
async def delete_batch(batch_id: str, request: Request) -> JSONResponse:
    """Delete a batch and its results, stopping it first if it runs."""
    await asyncio.to_thread(registry_of(request).delete, batch_id, request_owner(request.scope))
    return JSONResponse({})


@router.get("/v1beta/files/{file_id}:download")
@router.get("/v1/files/{file_id}:download", include_in_schema=False)
@router.get("/download/v1beta/files/{file_id}:download", include_in_schema=False)
@router.get("/download/v1/files/{file_id}:download", include_in_schema=False)
async def download_results(file_id: str, request: Request) -> FileResponse:
    """A batch's responses file (``alt=media``), JSONL: what ``client.files.download`` fetches."""
    path = registry_of(request).results_path(file_id, request_owner(request.scope))
    return FileResponse(path, media_type="application/jsonl", filename=f"{file_id}.jsonl")
