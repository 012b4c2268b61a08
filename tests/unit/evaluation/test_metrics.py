from __future__ import annotations

import numpy as np
import pytest

from omnivec.evaluation.metrics import relevant_ranks, retrieval_metrics

# Three orthogonal documents on the axes; query i leans towards document order[i].
DOCS = np.eye(3, dtype=np.float32)


def test_perfect_retrieval() -> None:
    metrics = retrieval_metrics(DOCS.copy(), DOCS, [0, 1, 2])
    assert metrics == {"recall@1": 1.0, "recall@5": 1.0, "mrr": 1.0, "n": 3.0}


def test_ranks_by_hand() -> None:
    queries = np.array(
        [
            [0.9, 0.1, 0.0],  # relevant 0 scores 0.9: rank 1
            [0.9, 0.1, 0.0],  # relevant 1 scores 0.1, below doc 0: rank 2
            [0.5, 0.4, 0.1],  # relevant 2 scores 0.1, below docs 0 and 1: rank 3
        ],
        dtype=np.float32,
    )
    assert relevant_ranks(queries, DOCS, [0, 1, 2]).tolist() == [1, 2, 3]
    metrics = retrieval_metrics(queries, DOCS, [0, 1, 2])
    assert metrics["recall@1"] == pytest.approx(1 / 3)
    assert metrics["recall@5"] == 1.0
    assert metrics["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert metrics["n"] == 3


def test_recall_at_5_needs_top_five() -> None:
    docs = np.eye(7, dtype=np.float32)
    # Scores 7, 6, ..., 1 for docs 0..6: doc k ranks k + 1.
    query = np.arange(7, 0, -1, dtype=np.float32)[None, :]
    assert retrieval_metrics(query, docs, [4])["recall@5"] == 1.0
    assert retrieval_metrics(query, docs, [5])["recall@5"] == 0.0
    assert retrieval_metrics(query, docs, [5])["mrr"] == pytest.approx(1 / 6)


def test_ties_count_against_the_query() -> None:
    query = np.ones((1, 3), dtype=np.float32)
    assert relevant_ranks(query, DOCS, [0]).tolist() == [3]
    assert retrieval_metrics(query, DOCS, [1])["recall@1"] == 0.0


def test_more_docs_than_queries() -> None:
    docs = np.eye(4, dtype=np.float32)
    queries = docs[[3, 1]]
    assert relevant_ranks(queries, docs, [3, 1]).tolist() == [1, 1]


@pytest.mark.parametrize(
    ("queries", "relevant", "message"),
    [
        (np.ones((2, 4), dtype=np.float32), [0, 1], "need \\(Q, D\\)"),
        (np.ones((2, 3), dtype=np.float32), [0], "one relevant index per query"),
        (np.ones((1, 3), dtype=np.float32), [3], "must lie in"),
        (np.ones((1, 3), dtype=np.float32), [-1], "must lie in"),
        (np.ones((0, 3), dtype=np.float32), [], "at least one query"),
    ],
)
def test_rejects_bad_input(queries: np.ndarray, relevant: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retrieval_metrics(queries, DOCS, relevant)
