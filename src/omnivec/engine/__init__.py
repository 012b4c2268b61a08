"""The serving engine: requests from many callers batched under a cost budget onto one model worker."""

from __future__ import annotations

from omnivec.engine.batcher import Batcher, BatchPolicy, estimate_cost
from omnivec.errors import DeadlineExceeded

__all__ = ["BatchPolicy", "Batcher", "DeadlineExceeded", "estimate_cost"]
