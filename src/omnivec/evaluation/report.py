"""The quality report behind `omnivec eval` and benchmarks/quality.py: build (or reuse) the
suite, embed it, score every task at every width, check the targets and list the misses."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnivec.config import Settings
from omnivec.embedder import Embedder
from omnivec.evaluation.dataset import build_suite
from omnivec.evaluation.runner import Miss, Row, embed_suite, format_table, misses, score, targets_report

DIMS = (128, 256, 384)
# Model metadata worth showing next to a miss: what ASR heard, what OCR or the text layer read.
EVIDENCE_KEYS = ("transcript", "ocr_text", "page_text")


def _evidence(metadata: dict[str, Any]) -> str:
    """What the model read from an item (the lite model reports it per part), or ""."""
    parts = [metadata, *metadata.get("parts", [])]
    found = [(key, _text(part.get(key))) for part in parts for key in EVIDENCE_KEYS]
    return "; ".join(f"{key}: {_clip(text)!r}" for key, text in found if text)


def _text(value: object) -> str:
    """Metadata text may be a string or a list of them (one per video frame or PDF page)."""
    if isinstance(value, list | tuple):
        return " | ".join(t for t in (_text(v) for v in value) if t)
    return " ".join(str(value).split()) if value else ""


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_misses(found: list[Miss]) -> str:
    """One bullet per miss: the query, the expected document and its rank, the document ranked first."""
    if not found:
        return "No misses: every query ranked its relevant document first."
    lines = []
    for miss in found:
        lines.append(
            f"- **{miss.task}** `{miss.query}` -> got `{miss.retrieved}`; wanted `{miss.expected}` (rank {miss.rank})"
        )
        for role, metadata in (
            ("query", miss.query_metadata),
            ("wanted doc", miss.expected_metadata),
            ("retrieved doc", miss.retrieved_metadata),
        ):
            if evidence := _evidence(metadata):
                lines.append(f"  - {role}: model read {evidence}")
    return "\n".join(lines)




@dataclass(frozen=True, slots=True)
class QualityReport:
    rows: list[Row]
    markdown: str


def quality_report(
    model: str,
    cache: Path,
    limit: int | None = None,
    dims: Sequence[int] = DIMS,
    rotate_options: Sequence[bool] = (True, False),
    progress: Callable[[int, int], None] | None = None,
    settings: Settings | None = None,
) -> QualityReport:
    """Run the suite against ``model`` and render the markdown report."""
    started = time.perf_counter()
    suite = build_suite(cache, limit=limit)
    built = time.perf_counter()
    base = settings or Settings.from_env()
    embedder = Embedder(model=model, settings=base.with_roots(suite.root))
    vectors = embed_suite(embedder, suite, rotate_options=rotate_options, progress=progress)
    embedded = time.perf_counter()
    rows = score(suite, vectors, dims, rotate_options=rotate_options)
    found = misses(suite, vectors, dim=max(dims), rotated=rotate_options[0])
    timing = (
        f"suite build {built - started:.1f} s; embedding ({len(rotate_options)} pass(es), incl. model load) "
        f"{embedded - built:.1f} s; scoring {time.perf_counter() - embedded:.1f} s"
    )
    markdown = "\n\n".join(
        [
            f"# omnivec retrieval quality: model `{model}` ({embedder.info.version}), suite v{suite.version}",
            format_table(rows),
            targets_report(rows),
            f"## Misses ({max(dims)}-d, rotated={rotate_options[0]})\n\n{format_misses(found)}",
            f"Timing: {timing}",
        ]
    )
    return QualityReport(rows, markdown)
