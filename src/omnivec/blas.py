"""numpy's BLAS on one thread for omnivec's small matrix products.

OpenBLAS runs even a (32, 384) @ (384, 384) product on every core, and its threads then spin
waiting for more work, on the cores the ONNX workers need. Measured on 2 cores under load: that
product took 3.2 ms of CPU with OpenBLAS's 2 threads and 0.12 ms on one. The limit is scoped to
omnivec's own products, so a user's numpy keeps its threads.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import threadpoolctl  # type: ignore[import-untyped]

_controller: Any = None


def one_thread() -> AbstractContextManager[Any]:
    """A context in which numpy's BLAS uses one thread."""
    global _controller
    if _controller is None:
        _controller = threadpoolctl.ThreadpoolController()  # scans the loaded libraries once
    limit: AbstractContextManager[Any] = _controller.limit(limits=1, user_api="blas")
    return limit
