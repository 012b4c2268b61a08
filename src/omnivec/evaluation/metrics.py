"""Retrieval metrics over embedding matrices: the rank of each query's one relevant document,
and recall@1, recall@5 and mean reciprocal rank derived from those ranks. Scores are dot
products, i.e. cosine similarity for the L2-normalized vectors omnivec returns. Ties count
against the query (a relevant document tied with another ranks below it), so degenerate
embeddings such as all-equal vectors cannot score well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def relevant_ranks(queries: np.ndarray, docs: np.ndarray, relevant: Sequence[int]) -> np.ndarray:
    """1-based rank of each query's relevant document among all documents.

    Args:
        queries: (Q, D) query vectors.
        docs: (N, D) document vectors.
        relevant: for each query i, the index in ``docs`` of its relevant document.

    Returns:
        (Q,) int array; 1 means the relevant document scored strictly highest.

    Raises:
        ValueError: shapes disagree or a relevant index is out of range.
    """
    target = _check(queries, docs, relevant)
    scores = queries @ docs.T  # (Q, D) @ (D, N) -> (Q, N)
    own = scores[np.arange(len(target)), target][:, None]  # (Q, 1)
    at_least = (scores >= own).sum(axis=1)  # counts the relevant document itself once
    return np.asarray(at_least, dtype=np.int64)


def retrieval_metrics(queries: np.ndarray, docs: np.ndarray, relevant: Sequence[int]) -> dict[str, float]:
    """recall@1, recall@5 and MRR of retrieving ``docs[relevant[i]]`` for ``queries[i]``.

    Returns:
        ``{"recall@1", "recall@5", "mrr", "n"}``; ``n`` is the number of queries.
    """
    ranks = relevant_ranks(queries, docs, relevant)
    return {
        "recall@1": float(np.mean(ranks <= 1)),
        "recall@5": float(np.mean(ranks <= 5)),
        "mrr": float(np.mean(1.0 / ranks)),
        "n": float(len(ranks)),
    }


def _check(queries: np.ndarray, docs: np.ndarray, relevant: Sequence[int]) -> np.ndarray:
    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(f"need (Q, D) queries and (N, D) docs; got {queries.shape} and {docs.shape}")
    target = np.asarray(relevant, dtype=np.int64)
    if target.shape != (len(queries),):
        raise ValueError(f"need one relevant index per query: {len(queries)} queries, {target.size} indices")
    if len(queries) == 0:
        raise ValueError("need at least one query")
    if target.min() < 0 or target.max() >= len(docs):
        raise ValueError(f"relevant indices must lie in [0, {len(docs)}); got {target.min()}..{target.max()}")
    return target
