"""Dynamic batching: concurrent requests coalesced into model calls cut by a cost budget.

Requests wait in a bounded queue. A single loop on the event loop takes the oldest request,
adds later requests with the same options until the batch's estimated cost reaches
``max_batch_cost`` or the oldest has waited ``max_wait_ms``, and runs the model on one worker
thread (never on the event loop). Requests that arrive while the model runs queue up and form
the next batch, so batches grow with the load even with no wait (the default): waiting while
the model is idle only adds latency (5 ms per request at one client). Cost is estimated cheaply
from the request, in units of about one text token of work (see :func:`estimate_cost`), so a
batch of 500 short texts and a batch of two videos both stay within what one call should carry.

Failures stay with their request: when a batch of several requests raises, each request is
run on its own, so one bad input does not fail the others. A full queue raises
:class:`~omnivec.errors.Overloaded` (HTTP 429 with ``Retry-After``), a request that does not
finish in time :class:`DeadlineExceeded`, and :meth:`Batcher.close` finishes every queued
and running request before it returns.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from omnivec.content import MIME_ALIASES, MIME_MODALITY, Content, Part
from omnivec.errors import DeadlineExceeded, Overloaded, Unavailable
from omnivec.models.base import Embeddings, EmbedOptions

logger = logging.getLogger(__name__)

# Cost units: one unit is about one text token of model work.
TEXT_CHARS_PER_UNIT = 4  # ~4 characters per word piece
CONTENT_BASE_COST = 8  # per content: tokenizer call, fusion, one output row
MEDIA_BASE_COST: dict[str, int] = {"image": 256, "pdf": 768, "audio": 1024, "video": 2048, "text": 0}
MEDIA_BYTES_PER_UNIT = 4096  # and one unit per 4 KiB: longer audio, bigger images cost more
FILE_REFERENCE_COST = 1024  # a path: its size is unknown until the worker reads it

RunModel = Callable[[list[Content], EmbedOptions], Embeddings]


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_batch_cost: float = 8192.0  # cost units per model call; one request over it runs alone
    max_wait_ms: float = 0.0  # how long the oldest request may wait for company (0 to 50)
    queue_size: int = 256  # requests waiting for the model; more are refused with 429
    request_timeout_s: float = 120.0  # queue wait + model time per request


class BatchObserver(Protocol):
    """Receives what the batcher does, for metrics."""

    def on_batch(self, requests: int, contents: int, cost: float, seconds: float) -> None: ...

    def on_queue_depth(self, depth: int) -> None: ...


class _NoObserver:
    def on_batch(self, requests: int, contents: int, cost: float, seconds: float) -> None:
        pass

    def on_queue_depth(self, depth: int) -> None:
        pass


def part_cost(part: Part) -> float:
    if part.text is not None:
        return len(part.text) / TEXT_CHARS_PER_UNIT
    if part.data is None:
        return FILE_REFERENCE_COST
    mime = (part.mime_type or "").split(";", 1)[0].strip().lower()
    modality = MIME_MODALITY.get(MIME_ALIASES.get(mime, mime), "video")  # unknown: assume the worst
    return MEDIA_BASE_COST[modality] + len(part.data) / MEDIA_BYTES_PER_UNIT


def estimate_cost(contents: Sequence[Content]) -> float:
    """Cost units of embedding ``contents``, from sizes alone (nothing is decoded)."""
    return sum(CONTENT_BASE_COST + sum(part_cost(p) for p in c.parts) for c in contents)


@dataclass(eq=False, slots=True)
class _Request:
    contents: list[Content]
    options: EmbedOptions
    cost: float
    future: asyncio.Future[Embeddings]
    enqueued: float = field(default_factory=time.monotonic)
    abandoned: bool = False  # the caller stopped waiting (timeout or disconnect)


def split(result: Embeddings, sizes: Sequence[int]) -> list[Embeddings]:
    """Cut one batch result into consecutive results of ``sizes`` rows."""
    out, start = [], 0
    for n in sizes:
        rows = slice(start, start + n)
        out.append(
            Embeddings(result.vectors[rows], result.model, result.version, result.dim, result.metadata[rows])
        )
        start += n
    return out


class Batcher:
    """Coalesces concurrent :meth:`embed` calls into batched model calls on one worker thread.

    Args:
        run: the model call, ``(contents, options) -> Embeddings``; it runs on the worker thread.
        policy: budget, wait, queue size and timeout.
        observer: receives batch sizes and queue depth (metrics).

    Use inside a running event loop: ``await batcher.start()``, ``await batcher.embed(...)``,
    ``await batcher.close()``.
    """

    def __init__(self, run: RunModel, policy: BatchPolicy, observer: BatchObserver | None = None) -> None:
        self._run_model = run
        self.policy = policy
        self._observer = observer or _NoObserver()
        self._queue: deque[_Request] = deque()
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="omnivec-model")
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._seconds_per_batch = 0.1  # moving average; sizes Retry-After

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="omnivec-batcher")

    async def run_in_worker(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` on the model's worker thread (e.g. loading the model at start)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def embed(self, contents: list[Content], options: EmbedOptions) -> Embeddings:
        """Embed ``contents`` in a batch with other concurrent requests.

        Raises:
            Overloaded: the queue is full.
            Unavailable: the server is shutting down.
            DeadlineExceeded: no result within ``policy.request_timeout_s``.
            OmnivecError: whatever the model raised for this request's inputs.
        """
        if self._closing or self._task is None:
            raise Unavailable(
                "the server is starting or shutting down; retry shortly or against another instance"
            )
        if len(self._queue) >= self.policy.queue_size:
            raise Overloaded(
                f"the server is busy: {len(self._queue)} requests are waiting for the model "
                f"(OMNIVEC_QUEUE_SIZE={self.policy.queue_size}); retry after the Retry-After delay",
                retry_after=self._retry_after(),
            )
        loop = asyncio.get_running_loop()
        request = _Request(contents, options, estimate_cost(contents), loop.create_future())
        self._queue.append(request)
        self._observer.on_queue_depth(len(self._queue))
        self._arrived.set()
        # One timer per request (no wait_for/shield pair: two more futures and a task hop each).
        timer = loop.call_later(self.policy.request_timeout_s, _expire, request, self.policy.request_timeout_s)
        try:
            return await request.future
        finally:
            timer.cancel()
            if request.future.cancelled():  # the caller went away: the batch skips the request
                request.abandoned = True

    async def close(self) -> None:
        """Refuse new requests, finish every queued and running one, stop the worker thread."""
        self._closing = True
        self._arrived.set()
        if self._task is not None:
            await self._task
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)

    def _retry_after(self) -> float:
        batches_ahead = 1 + sum(r.cost for r in self._queue) / self.policy.max_batch_cost
        return float(max(1, math.ceil(batches_ahead * self._seconds_per_batch)))

    # -- the loop -------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            self._drop_abandoned()
            if not self._queue:
                if self._closing:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            batch = await self._collect()
            if batch:
                await self._run(batch)

    def _drop_abandoned(self) -> None:
        while self._queue and self._queue[0].abandoned:
            self._queue.popleft()

    def _peek(self) -> tuple[list[_Request], float]:
        """The oldest request plus later ones with the same options, within the cost budget."""
        first = self._queue[0]
        batch, cost = [first], first.cost
        for request in itertools.islice(self._queue, 1, None):
            if request.abandoned or request.options != first.options:
                continue
            if cost + request.cost > self.policy.max_batch_cost:
                break
            batch.append(request)
            cost += request.cost
        return batch, cost

    async def _collect(self) -> list[_Request]:
        deadline = self._queue[0].enqueued + self.policy.max_wait_ms / 1000
        while True:
            self._drop_abandoned()
            if not self._queue:
                return []
            batch, cost = self._peek()
            remaining = deadline - time.monotonic()
            if cost >= self.policy.max_batch_cost or remaining <= 0 or self._closing:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass
        taken = set(map(id, batch))
        self._queue = deque(r for r in self._queue if id(r) not in taken and not r.abandoned)
        self._observer.on_queue_depth(len(self._queue))
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        contents = [c for r in batch for c in r.contents]
        started = time.monotonic()
        try:
            result = await self._call(contents, batch[0].options)
        except Exception as exc:
            if len(batch) == 1:
                _reject(batch[0], exc)
            else:
                logger.info("a batch of %d requests failed (%s); running them one by one", len(batch), exc)
                await self._run_each(batch)
        else:
            for request, part in zip(batch, split(result, [len(r.contents) for r in batch]), strict=True):
                _resolve(request, part)
        seconds = time.monotonic() - started
        self._seconds_per_batch = 0.8 * self._seconds_per_batch + 0.2 * seconds
        self._observer.on_batch(len(batch), len(contents), sum(r.cost for r in batch), seconds)

    async def _run_each(self, batch: list[_Request]) -> None:
        for request in batch:
            if request.abandoned:
                continue
            try:
                _resolve(request, await self._call(request.contents, request.options))
            except Exception as exc:
                _reject(request, exc)

    async def _call(self, contents: list[Content], options: EmbedOptions) -> Embeddings:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run_model, contents, options)


def _expire(request: _Request, seconds: float) -> None:
    if request.future.done():
        return
    request.abandoned = True
    request.future.set_exception(
        DeadlineExceeded(
            f"the request did not finish within {seconds:g} s (OMNIVEC_REQUEST_TIMEOUT); the server "
            "is busy or the input is large; retry later, send smaller batches, or raise the timeout"
        )
    )


def _resolve(request: _Request, result: Embeddings) -> None:
    if not request.future.done():
        request.future.set_result(result)


def _reject(request: _Request, exc: Exception) -> None:
    if request.abandoned:
        return  # nobody waits; setting it would log "exception was never retrieved"
    if not request.future.done():
        request.future.set_exception(exc)
