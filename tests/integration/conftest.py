"""Fixtures of the server tests: the reference library, base settings, long media.

Media come from the session fixtures in ``tests/conftest.py`` (synth generators); the long
ones for segmenting are built here from them. Each test module starts its own server with
``omnivec.api.background.serve_in_thread``.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from omnivec import Embedder
from omnivec.api.settings import ServerSettings


@pytest.fixture(scope="session")
def library() -> Embedder:
    """The in-process library: what the server's answers must equal."""
    return Embedder("lite")


@pytest.fixture(scope="module")
def server_settings(tmp_path_factory: pytest.TempPathFactory) -> ServerSettings:
    """Loopback, no keys, data under a temporary folder; tests replace() what they need."""
    return ServerSettings(data_dir=tmp_path_factory.mktemp("data"))


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as f:
        assert f.getnchannels() == 1 and f.getsampwidth() == 2
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2"), f.getframerate()


@pytest.fixture(scope="session")
def long_speech_wav(speech_wav: Path, media_dir: Path) -> Path:
    """About 86 s: speech, 80 s of silence, speech; over the 80 s audio limit."""
    speech, rate = _read_wav(speech_wav)
    samples = np.concatenate([speech, np.zeros(80 * rate, dtype="<i2"), speech])
    path = media_dir / "long_speech.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path
