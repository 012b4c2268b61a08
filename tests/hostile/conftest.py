"""Fixtures of the hostile suite: small real samples of every accepted format, a real
``omnivec serve`` subprocess (API keys, allowed root, small queue) measured with psutil, and
the recorder that feeds ``docs/reliability.md``.

The fast subset runs in CI (``pytest -m "not slow"``); ``OMNIVEC_RELIABILITY_FULL=1`` (set by
``scripts/reliability.py``) turns up the number of examples and kills. Each measured figure is
appended as one JSON line to ``$OMNIVEC_RELIABILITY_RECORD`` when that is set.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from PIL import Image

from omnivec import Embedder, Settings
from omnivec.evaluation import synth

FULL = os.environ.get("OMNIVEC_RELIABILITY_FULL") == "1"
KEYS = ("hostile-alpha-7f3c9a1e5b", "hostile-beta-2d8e6f0a4c")
AUTH = {"x-goog-api-key": KEYS[0]}
EMBED = "/v1beta/models/lite:embedContent"
MEMORY_BOUND = 500 * 1024 * 1024  # RSS growth allowed per bad request (the figure)
QUEUE_SIZE = 4  # the measured server's queue: the load test brings many more clients
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "200"}
OMNIVEC = str(Path(sys.executable).parent / "omnivec")
GOOD_TEXT = "a known good request after a bad one"


def scale(fast: int, full: int) -> int:
    """How many examples (or kills) to try: ``fast`` in CI, ``full`` in ``make reliability``."""
    return full if FULL else fast


class Recorder:
    """Appends one JSON object per observation to ``$OMNIVEC_RELIABILITY_RECORD`` (if set)."""

    def __init__(self) -> None:
        target = os.environ.get("OMNIVEC_RELIABILITY_RECORD")
        self.path = Path(target) if target else None

    def __call__(self, kind: str, **fields: Any) -> None:
        if self.path is not None:
            with self.path.open("a") as out:
                out.write(json.dumps({"kind": kind, **fields}, default=str) + "\n")


@pytest.fixture(scope="session")
def record() -> Recorder:
    return Recorder()


# -- samples -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Sample:
    name: str  # the format: png, jpeg, ..., text
    mime: str
    data: bytes
    path: Path


MIMES = {
    "png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp",
    "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac",
    "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
    "pdf": "application/pdf", "text": "text/plain",
}  # fmt: skip
FORMATS = tuple(MIMES)
# A valid file of another kind for each format (the "wrong kind" class).
WRONG_KIND = {
    "png": "wav", "jpeg": "pdf", "webp": "mp4", "wav": "png", "mp3": "jpeg", "flac": "webm",
    "mp4": "mp3", "mov": "flac", "webm": "pdf", "pdf": "png", "text": "jpeg",
}  # fmt: skip


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one folder the server and the library may read (its allowed root)."""
    return tmp_path_factory.mktemp("allowed")


@pytest.fixture(scope="session")
def samples(root: Path, photos: dict[str, Image.Image]) -> dict[str, Sample]:
    """Small valid files of every accepted format (small, so mutants that still decode stay cheap)."""
    media = root / "samples"
    media.mkdir()
    image = photos["chelsea"].resize((128, 96))
    image.save(media / "s.png")
    image.save(media / "s.jpeg", quality=85)
    image.save(media / "s.webp", quality=80)
    for fmt in ("wav", "mp3", "flac"):
        synth.speak("Hello there.", media / f"s.{fmt}", fmt=fmt)
    for container in ("mp4", "mov", "webm"):
        synth.make_video(image, media / f"s.{container}", seconds=1.0, fps=2, audio_wav=media / "s.wav",
                         container=container)  # fmt: skip
    synth.make_pdf(["Cats sleep for most of the day."], media / "s.pdf")
    (media / "s.text").write_text("Plain text about volcanoes and the magma under them.\n")
    return {f: Sample(f, MIMES[f], (media / f"s.{f}").read_bytes(), media / f"s.{f}") for f in FORMATS}


@pytest.fixture(scope="session")
def lite(root: Path) -> Embedder:
    """The in-process library, reading only under ``root``: what the server's answers must equal."""
    return Embedder("lite", Settings.from_env().with_roots(root))


@pytest.fixture(scope="session")
def good_vector(lite: Embedder) -> np.ndarray:
    vector: np.ndarray = lite.embed(GOOD_TEXT).vectors[0]
    return vector


# -- a real server process ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``omnivec serve`` as a subprocess on a free loopback port, logging to a file.

    Args:
        data_dir: its data dir (uploaded files, batch jobs); reused across restarts.
        roots: allowed roots.
        env: extra ``OMNIVEC_*`` variables.
    """

    def __init__(self, data_dir: Path, roots: list[Path], env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.roots = roots
        self.env = {**ENV, **(env or {})}
        self.log_path = data_dir.with_name(data_dir.name + ".log")
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    def start(self, timeout: float = 180.0) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [OMNIVEC, "serve", "--port", str(port), "--data-dir", str(self.data_dir), "--log-level", "debug"]
        for key in KEYS:
            command += ["--api-key", key]
        for folder in self.roots:
            command += ["--allow", str(folder)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"omnivec serve exited: {self.log()[-2000:]}"
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"omnivec serve was not ready after {timeout:g} s: {self.log()[-2000:]}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return int(psutil.Process(self.pid).memory_info().rss)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def server(root: Path, samples: dict[str, Sample], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The measured server: API keys on, ``root`` allowed, a queue of ``QUEUE_SIZE``."""
    running = ServerProcess(tmp_path_factory.mktemp("server") / "data", [root],
                            {"OMNIVEC_QUEUE_SIZE": str(QUEUE_SIZE)})  # fmt: skip
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=300) as client:
        yield client


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: dict[str, Any]
    seconds: float  # wall time of the request
    rss_growth: int  # server RSS after minus before, bytes


def measured(server: ServerProcess, send: Any) -> Outcome:
    """Run ``send()`` (returns an httpx.Response) and measure its wall time and the server's RSS growth."""
    before = server.rss()
    start = time.perf_counter()
    response: httpx.Response = send()
    seconds = time.perf_counter() - start
    growth = server.rss() - before
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text[:200]}
    return Outcome(response.status_code, body if isinstance(body, dict) else {"json": body}, seconds, growth)


def assert_still_serving(http: httpx.Client, server: ServerProcess, good_vector: np.ndarray) -> None:
    """The server process lives and the next good request returns the library's vector."""
    assert server.alive(), server.log()[-2000:]
    response = http.post(EMBED, json={"content": {"parts": [{"text": GOOD_TEXT}]}})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["embedding"]["values"], good_vector, atol=1e-5)
