from __future__ import annotations

import pytest

from omnivec.encoders.ocr import RapidOcr, reading_order
from omnivec.evaluation.synth import render_text_image


def box(x: float, y: float, w: float = 100, h: float = 30) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def test_reading_order_rows_then_columns() -> None:
    lines = [(box(300, 52), "grew"), (box(10, 100), "second"), (box(10, 50), "first"), (box(150, 48), "line")]
    assert [t for _, t in reading_order(lines)] == ["first", "line", "grew", "second"]
    assert reading_order([]) == []


@pytest.fixture(scope="module")
def ocr() -> RapidOcr:
    return RapidOcr()


def test_reads_rendered_text_with_word_spacing(ocr: RapidOcr) -> None:
    sentence = "Quarterly revenue grew by twelve percent in March"
    result = ocr.read(render_text_image(sentence, width=700))
    found = result.text.lower().split()
    expected = sentence.lower().split()
    assert sum(w in found for w in expected) >= len(expected) - 1, result.text
    assert result.n_words >= len(expected) - 1 and result.mean_score > 0.8
