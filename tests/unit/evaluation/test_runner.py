from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec.evaluation.dataset import Suite, Task
from omnivec.evaluation.runner import (
    Row,
    Target,
    embed_suite,
    evaluate,
    format_table,
    misses,
    score,
    targets_report,
)
from omnivec.models.base import Embeddings

# Four documents on the axes of a 4-d space; "rotation" swaps the last two axes, so the
# leading two dimensions (the Matryoshka prefix) hold different information in each mode.
AXES = {"cat": 0, "dog": 1, "car": 2, "bus": 3}


class AxisEmbedder:
    """Maps a text to its word's axis, plus a bias; records every call."""

    def __init__(self, bias: dict[str, np.ndarray]) -> None:
        self.bias = bias
        self.calls: list[tuple[str | None, bool, int]] = []

    def embed(
        self,
        inputs: Any,
        *,
        task: str | None = None,
        dim: int | None = None,
        rotate: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> Embeddings:
        assert dim is None  # the runner derives narrower widths itself
        self.calls.append((task, rotate, len(inputs)))
        rows = []
        for text in inputs:
            vector = np.zeros(4, dtype=np.float32)
            vector[AXES[text.split()[-1]]] = 1.0
            vector += self.bias.get(text, 0.0)
            if rotate:
                vector = vector[[0, 1, 3, 2]]
            rows.append(vector / np.linalg.norm(vector))
        if progress:
            progress(len(inputs))
        return Embeddings(np.stack(rows), "axes", "0", 4, [{"text": t} for t in inputs])


def _suite() -> Suite:
    docs = ("cat", "dog", "car", "bus")
    forward = Task(
        "words", "text", "text", ("a cat", "a dog", "a car"), docs, (0, 1, 2), ("q0", "q1", "q2"), docs
    )
    reverse = Task("reverse", "text", "text", ("a dog", "a cat"), docs[:2], (1, 0), ("qd", "qc"), docs[:2])
    return Suite(root=Path("/nonexistent"), version="test", tasks=(forward, reverse))


def test_every_distinct_item_is_embedded_once_per_role_and_rotation() -> None:
    embedder = AxisEmbedder({})
    seen: list[tuple[int, int]] = []
    embed_suite(embedder, _suite(), progress=lambda done, total: seen.append((done, total)))
    queries, docs = ("RETRIEVAL_QUERY", 3), ("RETRIEVAL_DOCUMENT", 4)
    expected = [(role, rotate, n) for rotate in (True, False) for role, n in (queries, docs)]
    assert embedder.calls == expected
    assert seen[-1] == (14, 14)


def test_perfect_embedder_scores_one_everywhere() -> None:
    rows = evaluate(AxisEmbedder({}), _suite(), dims=(2, 4))
    assert [(r.task, r.rotated, r.dim) for r in rows] == [
        (task, rotated, dim) for task in ("words", "reverse") for rotated in (True, False) for dim in (2, 4)
    ]
    full = [r for r in rows if r.dim == 4]
    assert all(r.recall_at_1 == r.recall_at_5 == r.mrr == 1.0 for r in full)
    assert {r.n for r in rows if r.task == "words"} == {3}


def test_narrow_widths_come_from_the_prefix_of_the_full_vector() -> None:
    # At 2-d, "car" and "bus" lose their axes: unrotated, "car" (axis 2) is cut away entirely;
    # rotated, the swap leaves it cut away too. Both collapse to the zero vector, so the
    # query "a car" ties with every document and ranks last among the four.
    rows = {(r.task, r.dim, r.rotated): r for r in evaluate(AxisEmbedder({}), _suite(), dims=(2,))}
    assert rows[("words", 2, False)].recall_at_1 == pytest.approx(2 / 3)
    assert rows[("words", 2, False)].mrr == pytest.approx((1 + 1 + 1 / 4) / 3)


def test_misses_name_what_was_retrieved_instead() -> None:
    # "a dog" (in both tasks) leans towards "cat": cat 0.9 vs dog 0.44 after normalizing (2, 1) -> rank 2.
    embedder = AxisEmbedder({"a dog": np.array([2.0, 0.0, 0.0, 0.0], dtype=np.float32)})
    vectors = embed_suite(embedder, _suite(), rotate_options=(True,))
    found = [(m.task, m.query, m.expected, m.retrieved, m.rank) for m in misses(_suite(), vectors)]
    assert found == [("words", "q1", "dog", "cat", 2), ("reverse", "qd", "dog", "cat", 2)]
    assert misses(_suite(), vectors)[0].retrieved_metadata == {"text": "cat"}
    rows = score(_suite(), vectors, dims=(4,), rotate_options=(True,))
    assert rows[0].recall_at_1 == pytest.approx(2 / 3) and rows[0].mrr == pytest.approx((1 + 0.5 + 1) / 3)


def _row(task: str, recall: float, dim: int = 384, rotated: bool = True) -> Row:
    return Row(task, "text", "audio", dim, rotated, recall, 1.0, recall, 10)


def test_format_table_has_one_line_per_row() -> None:
    table = format_table([_row("a", 0.5), _row("b", 1.0, dim=128, rotated=False)])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("| task |")
    assert lines[2] == "| a | text | audio | 384 | yes | 0.500 | 1.000 | 0.500 | 10 |"
    assert "| 128 | no |" in lines[3]


def test_targets_report_judges_rotated_rows_at_full_width() -> None:
    targets = (Target("speech", ("a", "b"), 0.9), Target("photos", ("c",), 0.6))
    rows = [_row("a", 0.95), _row("b", 0.5), _row("b", 1.0, rotated=False), _row("a", 0.1, dim=128)]
    report = targets_report(rows, targets)
    assert "PASS  speech >= 0.90: a = 0.950" in report
    assert "FAIL  speech >= 0.90: b = 0.500" in report
    assert "NOT MEASURED  photos >= 0.60: c" in report
