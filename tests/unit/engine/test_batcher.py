"""The batcher: coalescing under a cost budget, isolation of failures, backpressure, shutdown.

Most tests drive it with a small deterministic model function (the batcher's seam is any
``(contents, options) -> Embeddings`` callable) that records the batches it receives; the last
one uses the real lite model to show batched results equal unbatched ones.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np
import pytest

from omnivec import Embedder
from omnivec.content import Content, Part
from omnivec.engine.batcher import Batcher, BatchPolicy, DeadlineExceeded, estimate_cost, split
from omnivec.errors import InvalidInput, Overloaded, Unavailable
from omnivec.models.base import Embeddings, EmbedOptions

T = TypeVar("T")


class RecordingModel:
    """Vector = [len(text), index-free hash]; raises InvalidInput for the text "bad"."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.delay = delay

    def __call__(self, contents: list[Content], options: EmbedOptions) -> Embeddings:
        texts = [c.parts[0].text or "" for c in contents]
        self.batches.append(texts)
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if "bad" in texts:
            raise InvalidInput("the text 'bad' is refused")
        vectors = np.array([[len(t), sum(map(ord, t)) % 97] for t in texts], dtype=np.float32)
        return Embeddings(vectors, "fake", "0", 2, [{"text": t, "task": options.task} for t in texts])


def content(text: str) -> Content:
    return Content((Part(text=text),))


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


async def started(model: RecordingModel, **policy: float) -> Batcher:
    batcher = Batcher(model, BatchPolicy(**policy))  # type: ignore[arg-type]
    await batcher.start()
    return batcher


def test_concurrent_requests_coalesce_into_one_call_off_the_event_loop() -> None:
    model = RecordingModel()

    async def scenario() -> list[Embeddings]:
        batcher = await started(model, max_wait_ms=50)
        results = await asyncio.gather(
            *(batcher.embed([content(f"t{i}")], EmbedOptions()) for i in range(10))
        )
        await batcher.close()
        return list(results)

    results = run(scenario)
    assert model.batches == [[f"t{i}" for i in range(10)]]
    assert [r.metadata[0]["text"] for r in results] == [f"t{i}" for i in range(10)]
    assert model.threads == {"omnivec-model_0"}  # the worker thread, never the event loop's


def test_cost_budget_cuts_batches() -> None:
    model = RecordingModel()
    text = "x" * 400  # 100 units of text + 8 per content

    async def scenario() -> None:
        batcher = await started(model, max_wait_ms=50, max_batch_cost=250)
        await asyncio.gather(*(batcher.embed([content(text)], EmbedOptions()) for _ in range(5)))
        await batcher.close()

    run(scenario)
    assert [len(b) for b in model.batches] == [2, 2, 1]


def test_a_request_over_the_budget_runs_alone() -> None:
    model = RecordingModel()

    async def scenario() -> None:
        batcher = await started(model, max_wait_ms=20, max_batch_cost=10)
        await asyncio.gather(
            batcher.embed([content("y" * 1000)], EmbedOptions()),
            batcher.embed([content("z")], EmbedOptions()),
        )
        await batcher.close()

    run(scenario)
    assert [len(b) for b in model.batches] == [1, 1]


def test_requests_with_different_options_are_not_mixed() -> None:
    model = RecordingModel()

    async def scenario() -> list[Embeddings]:
        batcher = await started(model, max_wait_ms=30)
        query, doc = EmbedOptions(task="RETRIEVAL_QUERY"), EmbedOptions(task="RETRIEVAL_DOCUMENT")
        results = await asyncio.gather(
            *(batcher.embed([content(f"t{i}")], query if i % 2 else doc) for i in range(6))
        )
        await batcher.close()
        return list(results)

    results = run(scenario)
    assert sorted(model.batches) == [["t0", "t2", "t4"], ["t1", "t3", "t5"]]
    assert [r.metadata[0]["task"] for r in results] == ["RETRIEVAL_DOCUMENT", "RETRIEVAL_QUERY"] * 3


def test_a_failing_request_fails_alone() -> None:
    model = RecordingModel()

    async def scenario() -> list[Embeddings | BaseException]:
        batcher = await started(model, max_wait_ms=30)
        texts = ["a", "bad", "c"]
        results = await asyncio.gather(
            *(batcher.embed([content(t)], EmbedOptions()) for t in texts), return_exceptions=True
        )
        await batcher.close()
        return list(results)

    good1, bad, good2 = run(scenario)
    assert isinstance(bad, InvalidInput) and "'bad' is refused" in bad.message
    assert isinstance(good1, Embeddings) and isinstance(good2, Embeddings)
    assert model.batches == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


def test_a_full_queue_raises_overloaded_with_retry_after() -> None:
    model = RecordingModel(delay=0.2)

    async def scenario() -> list[Embeddings | BaseException]:
        batcher = await started(model, max_wait_ms=0, queue_size=2, max_batch_cost=1)
        first = asyncio.create_task(batcher.embed([content("running")], EmbedOptions()))
        await asyncio.sleep(0.05)  # the first is on the worker now; the queue is empty
        rest = [asyncio.create_task(batcher.embed([content(f"q{i}")], EmbedOptions())) for i in range(3)]
        results = await asyncio.gather(first, *rest, return_exceptions=True)
        await batcher.close()
        return list(results)

    results = run(scenario)
    overloaded = [r for r in results if isinstance(r, Overloaded)]
    assert len(overloaded) == 1 and overloaded[0].retry_after >= 1
    assert sum(isinstance(r, Embeddings) for r in results) == 3


def test_timeout_raises_deadline_exceeded_and_the_batcher_keeps_working() -> None:
    model = RecordingModel(delay=0.3)

    async def scenario() -> tuple[BaseException | None, Embeddings]:
        batcher = await started(model, request_timeout_s=0.1)
        try:
            await batcher.embed([content("slow")], EmbedOptions())
            error = None
        except DeadlineExceeded as exc:
            error = exc
        model.delay = 0.0
        batcher.policy = BatchPolicy(request_timeout_s=5.0)
        after = await batcher.embed([content("fast")], EmbedOptions())
        await batcher.close()
        return error, after

    error, after = run(scenario)
    assert isinstance(error, DeadlineExceeded) and error.http_status == 504 and "0.1 s" in error.message
    assert after.metadata[0]["text"] == "fast"


def test_requests_whose_callers_left_are_not_run() -> None:
    model = RecordingModel(delay=0.2)

    async def scenario() -> list[Embeddings | BaseException]:
        batcher = await started(model, max_batch_cost=1)  # one request per model call
        first = asyncio.create_task(batcher.embed([content("running")], EmbedOptions()))
        await asyncio.sleep(0.05)  # the first is on the worker now
        left = asyncio.create_task(batcher.embed([content("left")], EmbedOptions()))
        late = asyncio.create_task(batcher.embed([content("late")], EmbedOptions()))
        await asyncio.sleep(0)  # both queued
        left.cancel()  # e.g. the request's task was cancelled
        results = await asyncio.gather(first, left, late, return_exceptions=True)
        await batcher.close()
        return list(results)

    first, left, late = run(scenario)
    assert isinstance(left, asyncio.CancelledError)
    assert isinstance(first, Embeddings) and isinstance(late, Embeddings)
    assert model.batches == [["running"], ["late"]]


def test_timed_out_requests_are_not_run() -> None:
    model = RecordingModel(delay=0.3)

    async def scenario() -> list[Embeddings | BaseException]:
        batcher = await started(model, max_batch_cost=1, request_timeout_s=0.1)
        results = await asyncio.gather(
            *(batcher.embed([content(f"t{i}")], EmbedOptions()) for i in range(3)), return_exceptions=True
        )
        await batcher.close()
        return list(results)

    results = run(scenario)
    assert all(isinstance(r, DeadlineExceeded) for r in results)
    assert model.batches == [["t0"]]  # t1 and t2 expired in the queue while t0 ran


def test_close_finishes_queued_requests_then_refuses_new_ones() -> None:
    model = RecordingModel(delay=0.05)

    async def scenario() -> tuple[list[Embeddings], BaseException | None]:
        batcher = await started(model, max_wait_ms=0, max_batch_cost=1)
        pending = [asyncio.create_task(batcher.embed([content(f"t{i}")], EmbedOptions())) for i in range(4)]
        await asyncio.sleep(0)
        await batcher.close()
        done = [task.result() for task in pending]
        try:
            await batcher.embed([content("late")], EmbedOptions())
            refused = None
        except Unavailable as exc:
            refused = exc
        return done, refused

    done, refused = run(scenario)
    assert len(done) == 4 and isinstance(refused, Unavailable)


def test_estimate_cost_reads_sizes_only() -> None:
    text = Content((Part(text="x" * 400),))
    image = Content((Part.from_bytes(b"\x89PNG" + b"\0" * 8188, "image/png"),))
    video = Content((Part.from_bytes(b"\0" * 8192, "video/mp4"),))
    assert estimate_cost([text]) == 8 + 100
    assert estimate_cost([image]) == 8 + 256 + 2
    assert estimate_cost([video]) > estimate_cost([image])
    assert estimate_cost([text, image]) == estimate_cost([text]) + estimate_cost([image])


def test_split_keeps_rows_and_metadata_together() -> None:
    whole = Embeddings(
        np.arange(10, dtype=np.float32).reshape(5, 2), "m", "v", 2, [{"i": i} for i in range(5)]
    )
    parts = split(whole, [2, 0, 3])
    assert [len(p) for p in parts] == [2, 0, 3]
    assert parts[2].metadata == [{"i": 2}, {"i": 3}, {"i": 4}] and parts[2].vectors[0, 0] == 4


@pytest.fixture(scope="module")
def lite() -> Embedder:
    return Embedder("lite")


def test_batched_equals_unbatched_with_the_real_model(lite: Embedder) -> None:
    texts = ["short", "a somewhat longer sentence about the sea", "x " * 300, "tax law in France", ""]

    async def scenario() -> list[Embeddings]:
        batcher = Batcher(lite.embed_contents, BatchPolicy(max_wait_ms=50))
        await batcher.start()
        results = await asyncio.gather(*(batcher.embed([content(t)], EmbedOptions(dim=128)) for t in texts))
        await batcher.close()
        return list(results)

    batched = np.concatenate([r.vectors for r in run(scenario)])
    unbatched = np.concatenate(
        [lite.embed_contents([content(t)], EmbedOptions(dim=128)).vectors for t in texts]
    )
    np.testing.assert_allclose(batched, unbatched, atol=1e-6)
