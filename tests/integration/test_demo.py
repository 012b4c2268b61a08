"""``omnivec serve --demo`` end to end: the real command in a subprocess, with an empty cache.

The command generates the sample media, builds the demo index and serves it; the tests then
ask ``/v1/search`` the questions a new user would try, across modalities: a text query finds
the coffee video and the coffee PDF page, a question finds the spoken train announcement at
0 s, and an invoice that exists only as a scanned image (OCR) is found by its words. The
cache folder (``XDG_CACHE_HOME`` and ``HOME``) is a temporary one, so the first-run path,
media generation included, is what runs; the model's derived tables (``OMNIVEC_CACHE_DIR``)
are shared with the test session, as they are not what is under test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omnivec.config import Settings

START_TIMEOUT = 600.0  # seconds: media generation + indexing on a slow, shared machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"omnivec serve --demo exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"omnivec serve --demo was not ready after {START_TIMEOUT:g} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The base URL of a running ``omnivec serve --demo``, and its output log."""
    home = tmp_path_factory.mktemp("demo-home")
    log = home / "serve.log"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "OMNIVEC_CACHE_DIR": str(Settings.from_env().cache_dir),
        "HF_HUB_OFFLINE": "1",
    }
    for name in ("OMNIVEC_INDEX", "OMNIVEC_API_KEYS", "OMNIVEC_CONFIG"):
        env.pop(name, None)
    port = _free_port()
    command = [str(Path(sys.executable).parent / "omnivec"), "serve", "--demo", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def search(url: str, query: str, k: int = 5) -> list[dict[str, Any]]:
    answer = httpx.post(url + "/v1/search", json={"query": query, "k": k}, timeout=120)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def test_the_demo_is_built_from_generated_media_in_the_empty_cache(demo: tuple[str, Path]) -> None:
    url, log = demo
    output = log.read_text()
    media = Path(os.path.commonpath([r["source"] for r in search(url, "anything", k=50)]))
    assert media == Path(log.parent / ".cache" / "omnivec" / "demo-media").resolve()
    assert "19 added, 0 unchanged" in output, output
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "<title>omnivec search</title>" in page.text


def test_a_cup_of_coffee_finds_the_coffee_video_and_the_coffee_pdf_page(demo: tuple[str, Path]) -> None:
    url, _ = demo
    hits = search(url, "a cup of coffee")
    top = {(h["name"], h["modality"]) for h in hits[:2]}
    assert top == {("morning-coffee.mp4", "video"), ("coffee-handbook.pdf", "pdf")}, hits
    video = next(h for h in hits if h["name"] == "morning-coffee.mp4")
    assert video["start_s"] == 0.0 and video["end_s"] == pytest.approx(6.0, abs=0.3)
    frame = httpx.get(url + video["thumbnail_url"], timeout=60)
    assert frame.status_code == 200 and frame.content.startswith(b"\x89PNG")
    pdf = next(h for h in hits if h["name"] == "coffee-handbook.pdf")
    assert pdf["page_start"] == 1 and "Espresso" in pdf["snippet"]


def test_a_spoken_question_finds_the_train_announcement_at_0_s(demo: tuple[str, Path]) -> None:
    url, _ = demo
    first = search(url, "when does the train leave")[0]
    assert (first["name"], first["modality"], first["start_s"]) == ("train-times.wav", "audio", 0.0)
    assert "train" in first["snippet"].lower()  # the transcript the speech recognizer heard
    audio = httpx.get(url + first["media_url"], headers={"Range": "bytes=0-11"})
    assert audio.status_code == 206 and audio.content.startswith(b"RIFF")


def test_the_scanned_invoice_is_found_by_its_words(demo: tuple[str, Path]) -> None:
    url, _ = demo
    first = search(url, "bicycle repair invoice")[0]
    assert (first["name"], first["modality"]) == ("scanned-invoice.pdf", "pdf")
