"""The search page in a real headless Chromium (Debian's), driven by Playwright: load the page,
search by text, check the results and thumbnails, and save a screenshot to ``artifacts/``.

The server requires an API key, as an exposed one does: the page and its assets load without
one, a search without the key shows the authentication message, and with the key typed into
the page (kept in localStorage) the results and their key-protected thumbnails show."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from PIL import Image

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
API_KEY = "web-test-key"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/ensure-apt.sh installs it)"
)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Image.Image], text_pdf: Path,
        server_settings: ServerSettings, library: Embedder) -> Iterator[str]:  # fmt: skip
    folder = tmp_path_factory.mktemp("web-corpus")
    photos["chelsea"].save(folder / "cat.png")
    photos["rocket"].save(folder / "rocket.png")
    (folder / "report.pdf").write_bytes(text_pdf.read_bytes())
    (folder / "volcano.md").write_text("# Volcanoes\nVolcanoes erupt when molten magma rises to the surface.")
    (folder / "bread.txt").write_text("Knead the dough and let the bread rise overnight before baking.")
    settings = replace(
        server_settings, index_dir=tmp_path_factory.mktemp("web-index") / "idx", allowed_roots=(folder,),
        api_keys=(API_KEY,),
    )  # fmt: skip
    with serve_in_thread(create_app(settings, library)) as base:
        added = httpx.post(base + "/v1/index/documents", json={"paths": [str(folder)]},
                           headers={"x-goog-api-key": API_KEY}, timeout=300)  # fmt: skip
        assert added.status_code == 200 and added.json()["added"] == 5, added.text
        yield base


def test_page_and_assets_need_no_key_but_data_does(url: str) -> None:
    for path in ("/", "/web/app.js", "/web/style.css"):
        assert httpx.get(url + path).status_code == 200, path
    assert httpx.post(url + "/v1/search", json={"query": "cat"}).status_code == 401
    assert httpx.get(url + "/v1/index/stats").status_code == 401


def test_search_page_shows_results_with_thumbnails(url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url + "/")
            assert page.title() == "omnivec search"
            page.fill("#query", "a photo of a cat")
            page.click("#search-button")
            page.wait_for_selector("body[data-searched='true']")
            assert "requires an API key" in page.inner_text("#status")
            assert page.locator("#results .result").count() == 0
            page.fill("#api-key", "not-the-key")
            page.click("#search-button")
            page.wait_for_selector("#status:has-text('was refused')")
            page.fill("#api-key", API_KEY)
            page.dispatch_event("#api-key", "change")
            page.reload()  # the key survives in localStorage
            assert page.input_value("#api-key") == API_KEY
            page.fill("#query", "a photo of a cat")
            page.click("#search-button")
            page.wait_for_selector("#status:has-text('results for')")
            cards = page.locator("#results .result")
            assert cards.count() >= 5, page.inner_text("#status")  # PDF: a window and its pages
            first = cards.first
            assert Path(first.get_attribute("data-source") or "").name == "cat.png"
            assert first.locator(".score").inner_text().startswith("0.")
            thumb = first.locator("img.thumb")
            thumb.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=30_000
            )
            assert "results for" in page.inner_text("#status")
            pdf = page.locator("#results .result.pdf").first
            assert pdf.locator(".where").inner_text().startswith("p")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "web-search.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


def test_chromium_is_the_debian_build() -> None:
    assert shutil.which("chromium") == str(CHROMIUM)
