"""Cross-modal retrieval quality of an omnivec model on the generated suite.

Builds (or reuses) the suite's media in ``~/.cache/omnivec/eval``, embeds every query and
document with and without the Matryoshka rotation, and prints a markdown table of recall@1,
recall@5 and MRR per task at 128, 256 and 384 dimensions, the pass/fail report against the
quality targets, and the queries that missed with what they retrieved instead.

    .venv/bin/python benchmarks/quality.py [--model lite] [--cache DIR] [--limit N] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from omnivec import Embedder
from omnivec.config import Settings
from omnivec.evaluation.dataset import build_suite
from omnivec.evaluation.runner import Miss, embed_suite, format_table, misses, score, targets_report

DEFAULT_CACHE = Path.home() / ".cache" / "omnivec" / "eval"
DIMS = (128, 256, 384)
# Model metadata worth showing next to a miss: what ASR heard, what OCR or the text layer read.
EVIDENCE_KEYS = ("transcript", "ocr_text", "page_text")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="lite", help="registered model name (default: lite)")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"suite media (default: {DEFAULT_CACHE})"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N items per task, for a quick look")
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this markdown file")
    return parser.parse_args(argv)


def show_progress(done: int, total: int) -> None:
    print(f"\r  embedded {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def _evidence(metadata: dict[str, Any]) -> str:
    """What the model read from a document; the lite model reports it per part."""
    parts = [metadata, *metadata.get("parts", [])]
    found = [f"{key}: {_clip(str(part[key]))!r}" for part in parts for key in EVIDENCE_KEYS if part.get(key)]
    return "; ".join(found)


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
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
        if evidence := _evidence(miss.expected_metadata):
            lines.append(f"  - wanted doc, model saw {evidence}")
        if evidence := _evidence(miss.retrieved_metadata):
            lines.append(f"  - retrieved doc, model saw {evidence}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cache = args.cache.expanduser().resolve()

    started = time.perf_counter()
    suite = build_suite(cache, limit=args.limit)
    built = time.perf_counter()
    print(f"suite v{suite.version} ready in {built - started:.1f} s at {suite.root}", file=sys.stderr)

    embedder = Embedder(model=args.model, settings=Settings().with_roots(suite.root))
    vectors = embed_suite(embedder, suite, rotate_options=(True, False), progress=show_progress)
    embedded = time.perf_counter()
    rows = score(suite, vectors, DIMS, rotate_options=(True, False))
    found = misses(suite, vectors, dim=max(DIMS), rotated=True)

    timing = (
        f"suite build {built - started:.1f} s; embedding (twice: rotated and unrotated, "
        f"incl. model load) {embedded - built:.1f} s; scoring {time.perf_counter() - embedded:.1f} s"
    )
    report = "\n\n".join(
        [
            f"# omnivec retrieval quality: model `{args.model}`, suite v{suite.version}",
            format_table(rows),
            targets_report(rows),
            f"## Misses ({max(DIMS)}-d, rotated)\n\n{format_misses(found)}",
            f"Timing: {timing}",
        ]
    )
    print(report)
    if args.out is not None:
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
