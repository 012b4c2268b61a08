from __future__ import annotations

import numpy as np
import threadpoolctl

from omnivec.blas import one_thread


def _blas_threads() -> list[int]:
    return [int(pool["num_threads"]) for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def test_one_thread_is_scoped_and_changes_no_result() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((32, 384), np.float32), rng.standard_normal((384, 384), np.float32)
    before = _blas_threads()
    with one_thread():
        assert all(n == 1 for n in _blas_threads())
        inside = a @ b
    assert _blas_threads() == before  # the user's numpy keeps its threads
    np.testing.assert_allclose(inside, a @ b, rtol=1e-5, atol=1e-4)
