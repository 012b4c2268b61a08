from __future__ import annotations

import pytest

from omnivec import Embedder


@pytest.fixture(scope="session")
def lite() -> Embedder:
    return Embedder("lite")
