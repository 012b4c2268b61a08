"""Runs the retrieval suite against an embedder and reports it: every distinct query and document
is embedded once at full width per rotation setting (queries as ``RETRIEVAL_QUERY``, documents
as ``RETRIEVAL_DOCUMENT``), narrower widths are derived by Matryoshka prefix truncation and
renormalization of those vectors, and each (task, width, rotation) becomes a :class:`Row` of
recall@1, recall@5 and MRR. Also renders the rows as a markdown table, checks them against the
quality targets, and lists the queries that missed, with what they retrieved instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from omnivec.evaluation import dataset
from omnivec.evaluation.dataset import Item, Suite, Task
from omnivec.evaluation.metrics import relevant_ranks, retrieval_metrics
from omnivec.models.base import Embeddings, truncate_matryoshka

Role = Literal["query", "doc"]
TASK_TYPES: dict[Role, str] = {"query": "RETRIEVAL_QUERY", "doc": "RETRIEVAL_DOCUMENT"}
Progress = Callable[[int, int], None]  # (contents embedded so far, total)


class SupportsEmbed(Protocol):
    """What the runner needs from :class:`omnivec.Embedder`."""

    def embed(
        self,
        inputs: Any,
        *,
        task: str | None = None,
        dim: int | None = None,
        rotate: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> Embeddings: ...


@dataclass(frozen=True, slots=True)
class Row:
    """Retrieval quality of one task at one width, with or without the Matryoshka rotation."""

    task: str
    query_modality: str
    doc_modality: str
    dim: int
    rotated: bool
    recall_at_1: float
    recall_at_5: float
    mrr: float
    n: int  # queries


@dataclass(frozen=True, slots=True)
class Target:
    """A quality bar: recall@1 of every listed task at full width, rotated (the default output)."""

    label: str
    tasks: tuple[str, ...]
    min_recall_at_1: float


TARGETS: tuple[Target, ...] = (
    Target("speech -> text", (dataset.TEXT_TO_WAV, dataset.TEXT_TO_MP3), 0.9),
    Target("scanned PDF -> text", (dataset.QUESTION_TO_SCAN, dataset.PARAGRAPH_TO_SCAN), 0.95),
    Target("text-in-image -> text", (dataset.TEXT_TO_TEXT_IMAGE,), 0.95),
    Target("photos -> captions", (dataset.PHOTOS_TO_CAPTIONS,), 0.6),
)


@dataclass(frozen=True, slots=True)
class SuiteVectors:
    """Full-width vectors of every distinct (role, item), per rotation setting, and their metadata."""

    vectors: dict[tuple[bool, Role, Item], np.ndarray]  # (rotated, role, item) -> (D,)
    metadata: dict[tuple[Role, Item], dict[str, Any]]  # what the model reported (transcript, OCR text)

    def matrix(self, rotated: bool, role: Role, items: Sequence[Item], dim: int | None = None) -> np.ndarray:
        """Stack the items' vectors, cut to ``dim`` leading dimensions and renormalized. -> (N, dim)."""
        full = np.stack([self.vectors[(rotated, role, item)] for item in items])  # (N, D)
        return truncate_matryoshka(full, dim, full.shape[1])


@dataclass(frozen=True, slots=True)
class Miss:
    """A query whose relevant document was not ranked first."""

    task: str
    query: str
    expected: str
    rank: int  # of the expected document, 1-based
    retrieved: str  # label of the top-ranked document
    query_metadata: dict[str, Any]  # what the model reported for each (transcript, OCR text...)
    expected_metadata: dict[str, Any]
    retrieved_metadata: dict[str, Any]


def evaluate(
    embedder: SupportsEmbed,
    suite: Suite,
    dims: Sequence[int] = (128, 256, 384),
    rotate_options: Sequence[bool] = (True, False),
    progress: Progress | None = None,
) -> list[Row]:
    """Embed the suite once per rotation setting and score every task at every width.

    Args:
        embedder: an :class:`omnivec.Embedder` allowed to read ``suite.root``.
        suite: from :func:`omnivec.evaluation.dataset.build_suite`.
        dims: output widths to score; each must not exceed the model's native width.
        rotate_options: score with the Matryoshka rotation (True), without it (False), or both.
        progress: called with (contents embedded so far, total) after each model batch.

    Returns:
        One row per task, rotation setting and width, in that nesting order.
    """
    vectors = embed_suite(embedder, suite, rotate_options, progress)
    return score(suite, vectors, dims, rotate_options)


def distinct_items(tasks: Iterable[Task], role: Role) -> list[Item]:
    """Each query (or document) once, in first-seen order; tasks share many of them."""
    items = (item for task in tasks for item in (task.queries if role == "query" else task.docs))
    return list(dict.fromkeys(items))


def embed_suite(
    embedder: SupportsEmbed,
    suite: Suite,
    rotate_options: Sequence[bool] = (True, False),
    progress: Progress | None = None,
) -> SuiteVectors:
    """Full-width vectors of every distinct query and document, once per rotation setting."""
    batches: list[tuple[Role, list[Item]]] = [(r, distinct_items(suite.tasks, r)) for r in ("query", "doc")]
    total = len(rotate_options) * sum(len(items) for _, items in batches)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    vectors: dict[tuple[bool, Role, Item], np.ndarray] = {}
    metadata: dict[tuple[Role, Item], dict[str, Any]] = {}
    for rotated in rotate_options:
        for role, items in batches:
            result = embedder.embed(items, task=TASK_TYPES[role], rotate=rotated, progress=advance)
            for item, vector, meta in zip(items, result.vectors, result.metadata, strict=True):
                vectors[(rotated, role, item)] = vector
                metadata.setdefault((role, item), meta)
    return SuiteVectors(vectors, metadata)


def score(
    suite: Suite,
    vectors: SuiteVectors,
    dims: Sequence[int] = (128, 256, 384),
    rotate_options: Sequence[bool] = (True, False),
) -> list[Row]:
    """Recall@1, recall@5 and MRR of every task at every width and rotation setting."""
    return [
        _row(task, vectors, dim, rotated)
        for task in suite.tasks
        for rotated in rotate_options
        for dim in dims
    ]


def _row(task: Task, vectors: SuiteVectors, dim: int, rotated: bool) -> Row:
    queries = vectors.matrix(rotated, "query", task.queries, dim)
    docs = vectors.matrix(rotated, "doc", task.docs, dim)
    metrics = retrieval_metrics(queries, docs, task.relevant)
    return Row(
        task=task.name,
        query_modality=task.query_modality,
        doc_modality=task.doc_modality,
        dim=dim,
        rotated=rotated,
        recall_at_1=metrics["recall@1"],
        recall_at_5=metrics["recall@5"],
        mrr=metrics["mrr"],
        n=int(metrics["n"]),
    )


def misses(suite: Suite, vectors: SuiteVectors, dim: int | None = None, rotated: bool = True) -> list[Miss]:
    """Every query, over all tasks, whose relevant document did not rank first."""
    return [miss for task in suite.tasks for miss in _task_misses(task, vectors, dim, rotated)]


def _task_misses(task: Task, vectors: SuiteVectors, dim: int | None, rotated: bool) -> list[Miss]:
    queries = vectors.matrix(rotated, "query", task.queries, dim)
    docs = vectors.matrix(rotated, "doc", task.docs, dim)
    ranks = relevant_ranks(queries, docs, task.relevant)
    top = np.argmax(queries @ docs.T, axis=1)  # (Q, N) -> (Q,)
    found = []
    for i in np.flatnonzero(ranks > 1):
        expected, retrieved = task.relevant[i], int(top[i])
        found.append(
            Miss(
                task=task.name,
                query=task.query_labels[i],
                expected=task.doc_labels[expected],
                rank=int(ranks[i]),
                retrieved=task.doc_labels[retrieved],
                query_metadata=vectors.metadata[("query", task.queries[i])],
                expected_metadata=vectors.metadata[("doc", task.docs[expected])],
                retrieved_metadata=vectors.metadata[("doc", task.docs[retrieved])],
            )
        )
    return found


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a markdown table, one line per (task, rotation, width)."""
    lines = [
        "| task | query | doc | dim | rotated | recall@1 | recall@5 | MRR | n |",
        "|---|---|---|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.task} | {r.query_modality} | {r.doc_modality} | {r.dim} | {'yes' if r.rotated else 'no'} "
        f"| {r.recall_at_1:.3f} | {r.recall_at_5:.3f} | {r.mrr:.3f} | {r.n} |"
        for r in rows
    ]
    return "\n".join(lines)


def targets_report(rows: Sequence[Row], targets: Sequence[Target] = TARGETS) -> str:
    """Pass or fail for each target, judged on the rotated rows at the widest width measured."""
    rotated = [r for r in rows if r.rotated]
    if not rotated:
        return "No rotated rows were measured; the targets apply to the default (rotated) output."
    dim = max(r.dim for r in rotated)
    at_dim = {r.task: r for r in rotated if r.dim == dim}
    lines = [f"Targets (recall@1, {dim}-d, rotated):"]
    for target in targets:
        for task in target.tasks:
            row = at_dim.get(task)
            if row is None:
                lines.append(f"- NOT MEASURED  {target.label} >= {target.min_recall_at_1:.2f}: {task}")
                continue
            verdict = "PASS" if row.recall_at_1 >= target.min_recall_at_1 else "FAIL"
            lines.append(
                f"- {verdict}  {target.label} >= {target.min_recall_at_1:.2f}: "
                f"{task} = {row.recall_at_1:.3f} (n={row.n})"
            )
    return "\n".join(lines)
