"""Real model backends beyond ``lite``, loaded with transformers from a local directory.

Each backend module registers a :class:`~omnivec.backends.registry.BackendInfo` and a
factory ``(path, settings) -> Model``; ``omnivec models`` lists them and a user binds a
backend to weights on disk in the config (``[models.<name>] backend = ..., path = ...``).
"""
from __future__ import annotations

from omnivec.backends.registry import BackendInfo, backend, register_backend, registered_backends

__all__ = ["BackendInfo", "backend", "register_backend", "registered_backends"]
