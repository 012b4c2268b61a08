"""One lite Embedder for the batch tests, allowed to read every file the session creates."""

from __future__ import annotations

import pytest

from omnivec import Embedder, Settings


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder("lite", Settings.from_env().with_roots(tmp_path_factory.getbasetemp()))
