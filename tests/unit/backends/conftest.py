"""Tiny random-weight checkpoints of each real architecture, built once per session.

Each is written with ``save_pretrained`` by the backend's own ``save_random_model`` and loaded
back through the registry factory: the code path a user with real weights on disk takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnivec.backends.registry import backend, random_model_saver
from omnivec.config import Settings

CPU = Settings(device="cpu")


def _saved(factory: pytest.TempPathFactory, name: str) -> Path:
    path = factory.mktemp(f"{name}-tiny")
    random_model_saver(name)(path, "tiny")
    return path


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _saved(tmp_path_factory, "clip")


@pytest.fixture(scope="session")
def siglip2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _saved(tmp_path_factory, "siglip2")


@pytest.fixture(scope="session")
def clap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _saved(tmp_path_factory, "clap")


@pytest.fixture(scope="session")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _saved(tmp_path_factory, "lite-whisper")


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory: pytest.TempPathFactory, clip_dir: Path, clap_dir: Path) -> Path:
    """The composite: the session's CLIP and CLAP, bridged on a few hundred captions."""
    from omnivec.backends.align import align
    from omnivec.models.tables import rotation_corpus

    out = tmp_path_factory.mktemp("base")
    align(clap_dir, clip_dir, rotation_corpus()[:200], out, CPU)
    return out


def _load(name: str, path: Path) -> Any:
    return backend(name)[1](path, CPU)


@pytest.fixture(scope="session")
def clip_model(clip_dir: Path) -> Any:
    return _load("clip", clip_dir)


@pytest.fixture(scope="session")
def siglip2_model(siglip2_dir: Path) -> Any:
    return _load("siglip2", siglip2_dir)


@pytest.fixture(scope="session")
def clap_model(clap_dir: Path) -> Any:
    return _load("clap", clap_dir)


@pytest.fixture(scope="session")
def base_model(base_dir: Path) -> Any:
    return _load("base", base_dir)
