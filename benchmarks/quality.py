"""Cross-modal retrieval quality of an omnivec model on the generated suite.

Builds (or reuses) the suite's media in ``~/.cache/omnivec/eval``, embeds every query and
document with and without the Matryoshka rotation, and prints a markdown table of recall@1,
recall@5 and MRR per task at 128, 256 and 384 dimensions, the pass/fail report against the
quality targets, and the queries that missed with what they retrieved instead.
``omnivec eval`` runs the same report (rotated only, by default).

    .venv/bin/python benchmarks/quality.py [--model lite] [--cache DIR] [--limit N] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omnivec.evaluation.report import quality_report

DEFAULT_CACHE = Path.home() / ".cache" / "omnivec" / "eval"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="lite", help="registered model name (default: lite)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"suite media (default: {DEFAULT_CACHE})")
    parser.add_argument("--limit", type=int, default=None, help="first N items per task, for a quick look")
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this markdown file")
    return parser.parse_args(argv)


def show_progress(done: int, total: int) -> None:
    print(f"\r  embedded {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    report = quality_report(args.model, args.cache.expanduser().resolve(), args.limit, progress=show_progress)
    print(report.markdown)
    if args.out is not None:
        args.out.write_text(report.markdown + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
