"""RapidOCR through omnivec's wrapper on real rendered text, a scanned page, photos and slivers."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from omnivec.encoders.ocr import RapidOcr, reading_order
from omnivec.evaluation.synth import render_text_image

SENTENCE = "Quarterly revenue grew by twelve percent in March"
PAGE = (
    "Around 1440, the goldsmith Johannes Gutenberg developed a printing press in Mainz that used movable "
    "metal type, an oil-based ink and a screw press adapted from wine making. Before his invention, books "
    "in Europe were copied by hand, which made them rare and expensive. Within fifty years, printing shops "
    "had spread to more than two hundred cities and produced millions of volumes."
)


def box(x: float, y: float, w: float = 100, h: float = 30) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_reading_order_rows_then_columns() -> None:
    lines = [(box(300, 52), "grew"), (box(10, 100), "second"), (box(10, 50), "first"), (box(150, 48), "line")]
    assert [t for _, t in reading_order(lines)] == ["first", "line", "grew", "second"]
    assert reading_order([]) == []


@pytest.fixture(scope="module")
def ocr() -> RapidOcr:
    return RapidOcr()


def test_reads_rendered_text_with_word_spacing(ocr: RapidOcr) -> None:
    result = ocr.read(render_text_image(SENTENCE, width=700))
    found = result.text.lower().split()
    expected = SENTENCE.lower().split()
    assert sum(w in found for w in expected) >= len(expected) - 1, result.text
    assert result.n_words >= len(expected) - 1 and result.mean_score > 0.8


@pytest.mark.parametrize("font_size", [12, 16])
def test_small_print_keeps_word_spacing(ocr: RapidOcr, font_size: int) -> None:
    """A line a dozen pixels tall: read from an enlarged crop, its words stay apart."""
    result = ocr.read(render_text_image(SENTENCE, width=40 * font_size, font_size=font_size))
    found = result.text.lower().split()
    assert sum(w in found for w in SENTENCE.lower().split()) >= len(SENTENCE.split()) - 1, result.text


def test_scanned_page_is_read_line_by_line(ocr: RapidOcr) -> None:
    """An A4 page at 150 dpi (the size lite renders PDF pages at), text at 14 pt: every line found."""
    page = Image.new("RGB", (1241, 1754), "white")
    page.paste(render_text_image(PAGE, width=1241, font_size=29), (0, 0))
    found, expected = set(words(ocr.read(page).text)), words(PAGE)
    assert sum(w in found for w in expected) >= 0.95 * len(expected), found


def test_photos_without_text_read_nothing(ocr: RapidOcr, photos: dict[str, Image.Image]) -> None:
    for name in ("chelsea", "rocket", "astronaut", "horse", "brick"):
        assert ocr.read(photos[name]).n_words == 0, name


def test_same_image_same_text(ocr: RapidOcr, photos: dict[str, Image.Image]) -> None:
    page = photos["page"]
    first = ocr.read(page)
    assert "segmentation" in first.text.lower()
    assert ocr.read(page) == first


@pytest.mark.parametrize("size", [(20_000, 8), (8, 20_000), (3, 3)])
def test_slivers_and_specks_read_nothing(ocr: RapidOcr, size: tuple[int, int]) -> None:
    assert ocr.read(Image.new("RGB", size, "white")).text == ""
