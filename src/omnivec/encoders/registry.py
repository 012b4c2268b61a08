"""The encoder registry: backends register by decorator and are looked up by name.

A backend declares an :class:`EncoderInfo` capability record; heavy libraries are imported
inside ``load()`` so that importing omnivec never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from omnivec.errors import MissingDependency, ModelNotFound


@dataclass(frozen=True, slots=True)
class EncoderInfo:
    name: str
    modalities: tuple[str, ...]  # what the backend consumes: "text", "image", "audio"...
    output: str  # what it returns: "vector" (N, D), "probabilities" (N, C), "text"
    native_dim: int | None  # width of a vector output; None for text outputs
    runtime: str  # "torch", "onnxruntime", "ctranslate2"
    weights: str  # where the weights come from (package or local path)


_ENCODERS: dict[str, type[Any]] = {}
T = TypeVar("T")


def register_encoder(name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: make a backend available under ``name``; a duplicate name raises."""

    def decorate(cls: type[T]) -> type[T]:
        if name in _ENCODERS:
            raise ValueError(f"encoder {name!r} is already registered by {_ENCODERS[name].__name__}")
        _ENCODERS[name] = cls
        return cls

    return decorate


def encoder_class(name: str) -> type[Any]:
    try:
        return _ENCODERS[name]
    except KeyError:
        raise ModelNotFound(f"no encoder named {name!r}; available: {', '.join(sorted(_ENCODERS))}") from None


def registered_encoders() -> dict[str, type[Any]]:
    return dict(_ENCODERS)


def require(module: str, package: str) -> Any:
    """Import an optional heavy module, or raise MissingDependency naming the package."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(f"{module} is needed for this model; install it: pip install {package}") from exc
