"""read_pdf / count_pdf_pages on real text and scanned PDFs, and on encrypted, empty and broken ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fpdf import FPDF

from omnivec.errors import DecodeError, InvalidInput, LimitExceeded
from omnivec.evaluation import synth
from omnivec.limits import DEFAULT_LIMITS
from omnivec.media.pdf import count_pdf_pages, read_pdf


def _zero_page_pdf() -> bytes:
    """A well-formed PDF (correct xref offsets) whose page tree is empty."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _fpdf_bytes(pdf: FPDF) -> bytes:
    return bytes(pdf.output())


def _encrypted_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.cell(text="secret")
    pdf.set_encryption(owner_password="owner", user_password="user")
    return _fpdf_bytes(pdf)


def _pdf_with_pages(n: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=14)
    for i in range(n):
        pdf.add_page()
        pdf.cell(text=f"page {i + 1}")
    return _fpdf_bytes(pdf)


def test_text_layer_and_render_of_each_page(text_pdf: Path, pdf_paragraphs: list[str]) -> None:
    data = text_pdf.read_bytes()
    assert count_pdf_pages(data) == 3
    pages = read_pdf(data, DEFAULT_LIMITS)
    assert [p.index for p in pages] == [0, 1, 2]
    assert [" ".join(p.text.split()) for p in pages] == pdf_paragraphs
    for page in pages:
        assert page.image is not None and page.image.mode == "RGB"
        assert page.image.size == (1241, 1754)  # A4 (595.3 x 841.9 pt) at 150 dpi, sides rounded up
        assert np.asarray(page.image).min() < 100  # text was drawn


def test_scanned_pdf_has_images_but_no_text(scanned_pdf: Path) -> None:
    pages = read_pdf(scanned_pdf.read_bytes(), DEFAULT_LIMITS, dpi=72)
    assert len(pages) == 3
    assert all(p.text.strip() == "" for p in pages)
    assert all(p.image is not None and np.asarray(p.image).min() < 100 for p in pages)


def test_text_only_read_skips_rendering(text_pdf: Path) -> None:
    pages = read_pdf(text_pdf.read_bytes(), DEFAULT_LIMITS, render=False)
    assert all(p.image is None for p in pages)
    assert "Cats" in pages[0].text


def test_render_is_scaled_down_to_the_pixel_limit(text_pdf: Path) -> None:
    small = replace(DEFAULT_LIMITS, max_image_pixels=200_000)
    image = read_pdf(text_pdf.read_bytes(), small, pages=range(1))[0].image
    assert image is not None and image.width * image.height <= 200_000


def test_too_many_pages_unless_a_window_is_chosen() -> None:
    data = _pdf_with_pages(8)
    with pytest.raises(LimitExceeded, match="PDF has 8 pages; the limit is 6 pages"):
        read_pdf(data, DEFAULT_LIMITS, render=False)
    window = read_pdf(data, DEFAULT_LIMITS, render=False, pages=range(6, 12))  # clipped to the document
    assert [(p.index, p.text) for p in window] == [(6, "page 7"), (7, "page 8")]
    with pytest.raises(InvalidInput, match="past the end of this 8-page PDF"):
        read_pdf(data, DEFAULT_LIMITS, pages=range(12, 18))


def test_oversized_page_is_refused_before_rendering() -> None:
    pdf = FPDF(unit="pt", format=(15_000, 400))
    pdf.add_page()
    with pytest.raises(LimitExceeded, match="page 1 is 15000 x 400 points; the limit is 14400 points"):
        read_pdf(_fpdf_bytes(pdf), DEFAULT_LIMITS)


def test_password_protected_pdf_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="password-protected"):
        read_pdf(_encrypted_pdf(), DEFAULT_LIMITS)


def test_zero_page_pdf_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="no pages"):
        count_pdf_pages(_zero_page_pdf())


@pytest.mark.parametrize(
    "data", [b"%PDF-1.7\n" + bytes(range(256)) * 8, b"not a pdf at all"], ids=["corrupt", "garbage"]
)
def test_corrupt_pdf_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError, match="not a readable PDF"):
        read_pdf(data, DEFAULT_LIMITS)


def test_empty_pdf_bytes_are_a_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"empty \(0 bytes\)"):
        count_pdf_pages(b"")


def test_concurrent_reads_are_safe(tmp_path: Path) -> None:
    data = synth.make_pdf([f"Paragraph number {i}." for i in range(4)], tmp_path / "four.pdf").read_bytes()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: read_pdf(data, DEFAULT_LIMITS, dpi=50), range(8)))
    texts = {tuple(p.text for p in pages) for pages in results}
    assert texts == {tuple(f"Paragraph number {i}." for i in range(4))}
