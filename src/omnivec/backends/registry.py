"""The backend registry: a backend declares what it can do and how to build a model from a folder.

Heavy libraries (torch, transformers) are imported inside the factories, so importing this
module, or listing backends, stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omnivec.errors import ModelNotFound

if TYPE_CHECKING:
    from omnivec.config import Settings
    from omnivec.models.base import Model

BackendFactory = Callable[[Path, "Settings"], "Model"]

# Part of every backend model's version, with the weights' digest: bump it when preprocessing,
# pooling or fusion change the vectors, never for a package release (that would orphan indexes).
BACKENDS_VERSION = "1"


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """A backend's capability card, shown by ``omnivec models`` before any weights are loaded."""

    name: str  # the ``backend =`` value in the config, e.g. "clip"
    description: str
    modalities: tuple[str, ...]  # inputs it embeds: "text", "image", "audio", "video", "pdf"
    architectures: tuple[str, ...]  # transformers ``model_type`` values it loads, e.g. ("clip",)
    matryoshka: bool  # leading dimensions are meaningful on their own
    reference_dim: int | None  # native width of the reference checkpoint; the loaded config decides
    reference_checkpoint: str  # the public checkpoint this backend was built for
    limits: dict[str, float] = field(default_factory=dict)  # e.g. {"text_tokens": 77, "audio_seconds": 10}
    task_prompts: dict[str, str] = field(default_factory=dict)  # task type -> instruction prefix


_BACKENDS: dict[str, tuple[BackendInfo, BackendFactory]] = {}

# Modules that register the built-in backends when imported.
_BUILTIN_MODULES: tuple[str, ...] = (
    "omnivec.backends.clip",
    "omnivec.backends.clap",
    "omnivec.backends.whisper",
    "omnivec.backends.composite",
    "omnivec.backends.qwen_vl",
    "omnivec.backends.qwen_omni",
)


def register_backend(info: BackendInfo) -> Callable[[BackendFactory], BackendFactory]:
    """Decorator for a factory ``(path, settings) -> Model``; a duplicate name raises."""

    def decorate(factory: BackendFactory) -> BackendFactory:
        if "_" in info.name:
            raise ValueError(f"backend names are hyphenated: {info.name!r}")
        if info.name in _BACKENDS:
            raise ValueError(f"backend {info.name!r} is already registered")
        _BACKENDS[info.name] = (info, factory)
        return factory

    return decorate


def backend(name: str) -> tuple[BackendInfo, BackendFactory]:
    """A backend by name; names are hyphenated (``qwen-vl``), and ``qwen_vl`` is accepted too."""
    _import_builtin_backends()
    try:
        return _BACKENDS[name.replace("_", "-")]
    except KeyError:
        raise ModelNotFound(f"no backend named {name!r}; available: {', '.join(sorted(_BACKENDS))}") from None


def registered_backends() -> list[BackendInfo]:
    _import_builtin_backends()
    return [info for info, _ in sorted(_BACKENDS.values(), key=lambda entry: entry[0].name)]


def random_model_saver(name: str) -> Callable[[Path, str], None]:
    """``save(path, size)`` writing a random-weight checkpoint of backend ``name``'s architecture.

    A backend module exposes ``save_random_model(path, size)``; a module registering several
    backends adds ``save_random_<name>`` for the others (clip.py: ``save_random_siglip2``).
    """
    import sys

    _, factory = backend(name)
    module = sys.modules[factory.__module__]
    saver = getattr(module, f"save_random_{name.replace('-', '_')}", None) or module.save_random_model
    return saver  # type: ignore[no-any-return]


def _import_builtin_backends() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
