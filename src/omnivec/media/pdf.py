"""PDF bytes -> per page, the text layer and a rendered RGB image (pypdfium2); and page subsets.

The page count and every selected page's size are checked before anything is rendered, and
the render scale is lowered where needed so no page image exceeds the pixel limit. Encrypted,
empty and corrupt documents raise :class:`~omnivec.errors.DecodeError` saying which. PDFium is
not thread-safe, so every call into it holds one module-level lock, and every PDFium object is
closed when done rather than left to the garbage collector.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from omnivec.errors import DecodeError, InvalidInput, LimitExceeded
from omnivec.limits import Limits, check_pdf_pages

POINTS_PER_INCH = 72.0

_PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class PdfPageContent:
    index: int  # 0-based page number in the document
    text: str  # the text layer ("" for scanned pages); lines end with "\n"
    image: Image.Image | None  # the rendered page (RGB), None when render=False


def _open_error(code: int) -> DecodeError:
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        return DecodeError(
            "the PDF is password-protected; remove the password (e.g. `qpdf --decrypt "
            "--password=... in.pdf out.pdf`) and send it again"
        )
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return DecodeError("the PDF uses an unsupported encryption (security handler); decrypt it first")
    return DecodeError(f"the bytes are not a readable PDF (corrupt or truncated; PDFium error {code})")


def _load(data: bytes) -> pdfium.PdfDocument:
    # Loaded through the raw API: pypdfium2's own open reports a zero-page document with
    # FPDF_GetLastError, which is stale after a successful load (it might say "password").
    raw = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
    if not raw:
        raise _open_error(pdfium_c.FPDF_GetLastError())
    document = pdfium.PdfDocument(raw)  # owns and closes the handle; `data` outlives it (caller's scope)
    if len(document) == 0:
        document.close()
        raise DecodeError("the PDF has no pages")
    return document


@contextmanager
def _document(data: bytes) -> Iterator[pdfium.PdfDocument]:
    """An open document, used and closed under the PDFium lock; PDFium errors -> DecodeError."""
    if not data:
        raise DecodeError("PDF is empty (0 bytes)")
    with _PDFIUM_LOCK:
        document = _load(data)
        try:
            yield document
        except pdfium.PdfiumError as exc:
            raise DecodeError(f"the PDF is corrupt: {exc}") from exc
        finally:
            document.close()


def count_pdf_pages(data: bytes) -> int:
    """Number of pages, from the document's page tree (nothing is rendered).

    Raises:
        DecodeError: empty, corrupt, encrypted or zero-page PDF.
    """
    with _document(data) as document:
        return len(document)


def _select(n_pages: int, pages: range | None, limits: Limits) -> range:
    if pages is None:
        check_pdf_pages(n_pages, limits)
        return range(n_pages)
    if pages.start < 0 or pages.step <= 0:
        raise InvalidInput(f"page window {pages} must count up from page 0 or later")
    selected = range(n_pages)[pages.start : pages.stop : pages.step]  # clipped to the document
    if not selected:
        raise InvalidInput(
            f"page window {pages.start}-{pages.stop - 1} is past the end of this {n_pages}-page PDF"
        )
    return selected


def _page_size(document: pdfium.PdfDocument, index: int, limits: Limits) -> tuple[float, float]:
    """The page's (width, height) in points, checked against ``max_pdf_page_points``."""
    width, height = document.get_page_size(index)
    if not (width > 0 and height > 0):
        raise DecodeError(f"page {index + 1} has no valid size ({width} x {height} points)")
    if max(width, height) > limits.max_pdf_page_points:
        raise LimitExceeded(
            f"page {index + 1} is {width:.0f} x {height:.0f} points; the limit is "
            f"{limits.max_pdf_page_points:.0f} points ({limits.max_pdf_page_points / POINTS_PER_INCH:.0f} inches) "
            "per side"
        )
    return width, height


def _render_scale(width: float, height: float, dpi: float, limits: Limits) -> float:
    """Pixels per point at ``dpi``, lowered so the page image stays within ``max_image_pixels``."""
    # PDFium rounds each side up, so solve (w*s + 1) * (h*s + 1) = max_pixels for s.
    area, perimeter, budget = width * height, width + height, limits.max_image_pixels
    fitting = (-perimeter + math.sqrt(perimeter**2 + 4 * area * (budget - 1))) / (2 * area)
    return min(dpi / POINTS_PER_INCH, fitting)


def _read_page(document: pdfium.PdfDocument, index: int, scale: float | None) -> PdfPageContent:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_range().replace("\r\n", "\n")
        finally:
            textpage.close()
        image = None
        if scale is not None:
            bitmap = page.render(scale=scale, rev_byteorder=True)  # RGB order, no BGR swap needed
            try:
                image = bitmap.to_pil().convert("RGB")  # a copy, independent of PDFium's buffer
            finally:
                bitmap.close()
    finally:
        page.close()
    return PdfPageContent(index=index, text=text, image=image)


def read_pdf(
    data: bytes, limits: Limits, dpi: float = 150, render: bool = True, pages: range | None = None
) -> list[PdfPageContent]:
    """Read each page's text layer and, if ``render``, an image of it.

    Args:
        data: the PDF bytes.
        limits: ``max_pdf_pages`` (unless ``pages`` is given), ``max_pdf_page_points`` and
            ``max_image_pixels`` (the render is scaled down to fit) are enforced first.
        dpi: render resolution.
        render: False to read only the text layer (fast; no images).
        pages: a window of 0-based pages, e.g. ``range(6, 12)``, for embedding long PDFs in
            chunks; clipped to the document's length, and the page-count limit is then not
            applied (the caller chose the window).

    Returns:
        One :class:`PdfPageContent` per selected page, in page order.

    Raises:
        DecodeError: empty, corrupt, encrypted or zero-page PDF.
        LimitExceeded: too many pages, or a page larger than ``max_pdf_page_points``.
        InvalidInput: ``dpi`` is not positive, or ``pages`` selects no page.
    """
    if not dpi > 0:
        raise InvalidInput(f"dpi must be positive, not {dpi}")
    with _document(data) as document:
        selected = _select(len(document), pages, limits)
        # Every selected page is checked before the first one is rendered.
        sizes = [_page_size(document, i, limits) for i in selected]
        scales = [_render_scale(w, h, dpi, limits) if render else None for w, h in sizes]
        return [_read_page(document, i, scale) for i, scale in zip(selected, scales, strict=True)]


def extract_pdf_pages(data: bytes, pages: range) -> bytes:
    """A new PDF holding ``pages`` (0-based) of ``data``: how long PDFs are cut into windows.

    Raises:
        DecodeError: empty, corrupt, encrypted or zero-page PDF.
        InvalidInput: ``pages`` selects no page of the document.
    """
    with _document(data) as document:
        if not pages or pages.start < 0 or pages.step <= 0 or pages[-1] >= len(document):
            n = len(document)
            raise InvalidInput(f"pages {pages.start}-{pages.stop - 1} are not all in this {n}-page PDF")
        target = pdfium.PdfDocument.new()
        try:
            target.import_pages(document, pages=list(pages))
            buffer = io.BytesIO()
            target.save(buffer)
        finally:
            target.close()
    return buffer.getvalue()
