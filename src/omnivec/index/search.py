"""Search: two-stage Matryoshka retrieval and the hits it returns.

Stage one asks the store for ``candidates * k`` chunks by dot product on the renormalized
prefix column (an ANN index on large tables, an exact scan on small ones); stage two rescores
those candidates with their full vectors, exactly, and keeps the best ``k``. Prefix search is
cheap because the prefix is small (128 of 384 dims by default) and, thanks to the model's
Matryoshka rotation, carries most of the ranking signal; the rerank restores full precision.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivec.index.store import Candidates, Chunk, Filters, VectorStore, row_to_chunk
from omnivec.models.base import truncate_matryoshka

CANDIDATES_PER_HIT = 10  # stage one returns this many candidates per requested hit (benchmarks/search.py)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a chunk and its score (dot product of unit vectors, i.e. cosine)."""

    score: float
    chunk: Chunk

    @property
    def source(self) -> str:
        return self.chunk.source

    @property
    def modality(self) -> str:
        return self.chunk.modality

    @property
    def pages(self) -> tuple[int, int] | None:
        return self.chunk.pages

    @property
    def seconds(self) -> tuple[float, float] | None:
        return self.chunk.seconds

    def where(self) -> str:
        """Where in the file, for people: "p. 3", "pp. 1-6", "0:50-1:40", or "" for the whole file."""
        if self.chunk.kind == "pdf_page" and self.pages:
            return f"p. {self.pages[0]}"
        if self.pages and self.chunk.kind != "whole":
            return f"pp. {self.pages[0]}-{self.pages[1]}"
        if self.seconds and self.chunk.kind != "whole":
            return f"{_clock(self.seconds[0])}-{_clock(self.seconds[1])}"
        if self.chunk.chars and self.chunk.kind != "whole":
            return f"chars {self.chunk.chars[0]}-{self.chunk.chars[1]}"
        return ""

    def snippet(self, width: int = 160) -> str:
        """The chunk's text on one line, cut to about ``width`` characters."""
        text = re.sub(r"\s+", " ", self.chunk.text).strip()
        return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "…"

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "score": round(self.score, 6), "source": c.source, "modality": c.modality, "kind": c.kind,
            "locator": c.locator, "pages": list(c.pages) if c.pages else None,
            "seconds": list(c.seconds) if c.seconds else None, "chars": list(c.chars) if c.chars else None,
            "text": c.text, "chunk_id": c.id, "content_hash": c.content_hash,
            "model": c.model, "version": c.version, "dim": c.dim,
        }  # fmt: skip


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def prefix_of(vectors: np.ndarray, prefix_dim: int) -> np.ndarray:
    """(N, D) unit vectors -> (N, prefix_dim) renormalized Matryoshka prefixes."""
    return truncate_matryoshka(np.asarray(vectors, dtype=np.float32), prefix_dim, vectors.shape[1])


def two_stage(
    store: VectorStore, query: np.ndarray, k: int, filters: Filters, candidates: int = CANDIDATES_PER_HIT
) -> list[Hit]:
    """Prefix search for ``candidates * k`` rows, exact rerank by their full vectors, best ``k``.

    Args:
        query: (D,) unit vector of the index's model.
    """
    head = prefix_of(query[None, :], store.identity.prefix_dim)[0]  # (1, D) -> (P,)
    found = store.search(head, "prefix", k * candidates, filters)
    scores = found.vectors @ query  # (C, D) @ (D,) -> (C,)
    best = np.argsort(-scores, kind="stable")[:k]
    return _hits(store, found, best, scores[best])


def exact(store: VectorStore, query: np.ndarray, k: int, filters: Filters) -> list[Hit]:
    """Search the full vectors directly (a scan on LanceDB): the reference for recall."""
    found = store.search(query, "vector", k, filters)
    return _hits(store, found, np.arange(len(found.keys)), found.scores)


def _hits(store: VectorStore, found: Candidates, picks: np.ndarray, scores: np.ndarray) -> list[Hit]:
    """The picked candidates as hits: from the rows the search read, else fetched."""
    if found.row is not None:
        chunks: list[Chunk | None] = [row_to_chunk(found.row(int(i))) for i in picks]
    else:
        chunks = store.fetch([found.keys[i] for i in picks])
    return [
        Hit(float(score), chunk) for score, chunk in zip(scores, chunks, strict=True) if chunk is not None
    ]


def match_sources(sources: Iterable[str], pattern: str) -> tuple[str, ...]:
    """Sources matching a glob, tried on the whole absolute path and on any trailing part of it.

    ``*`` also crosses ``/``, so ``*.pdf`` matches every PDF and ``reports/*`` everything under
    any folder named ``reports``.
    """
    pattern = pattern.removeprefix("./")
    tail = pattern if pattern.startswith(("*", "/")) else "*/" + pattern
    return tuple(s for s in sources if fnmatch.fnmatchcase(s, pattern) or fnmatch.fnmatchcase(s, tail))
