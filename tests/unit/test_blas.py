from __future__ import annotations

import numpy as np
import threadpoolctl

from omnivec.blas import one_thread


def _blas_threads() -> list[int]:
    """Threads of numpy's own BLAS (scipy or torch may load other copies later; numpy's does the products)."""
    pools = threadpoolctl.threadpool_info()
    return [int(p["num_threads"]) for p in pools if p["user_api"] == "blas" and "numpy" in p["filepath"]]


def test_one_thread_is_scoped_and_changes_no_result() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((32, 384), np.float32), rng.standard_normal((384, 384), np.float32)
    before = _blas_threads()
    assert before
    with one_thread():
        assert all(n == 1 for n in _blas_threads())
        inside = a @ b
    assert _blas_threads() == before  # the user's numpy keeps its threads
    np.testing.assert_allclose(inside, a @ b, rtol=1e-5, atol=1e-4)
