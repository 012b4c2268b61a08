"""What every model shares: its identity card, per-call options, results, and the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from omnivec.content import Content
from omnivec.errors import InvalidInput, ModelNotFound

if TYPE_CHECKING:
    from omnivec.config import ModelSpec, Settings

TASK_TYPES = (
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)


def check_task(task: str | None) -> str | None:
    if task is None or task == "TASK_TYPE_UNSPECIFIED":
        return None
    upper = task.upper()
    if upper not in TASK_TYPES:
        raise InvalidInput(f"unknown task type {task!r}; expected one of: {', '.join(TASK_TYPES)}")
    return upper


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """The identity every vector carries, so vectors of different models are never mixed silently."""

    name: str
    version: str  # model version + runtime and precision, e.g. "1+text-onnx-int8.vision-onnx-fp32"
    dim: int  # native output width
    modalities: tuple[str, ...]
    matryoshka: bool  # leading dimensions are meaningful on their own
    task_prompts: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def identity(self, dim: int) -> dict[str, Any]:
        return {"model": self.name, "version": self.version, "dim": dim, "normalized": True}


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    task: str | None = None  # one of TASK_TYPES
    title: str | None = None  # used with RETRIEVAL_DOCUMENT
    dim: int | None = None  # Matryoshka output width; None = native
    auto_truncate: bool = False  # cut text over the token limit instead of refusing it
    video_audio: bool = True  # embed a video's audio track along with its frames
    rotate: bool = True  # apply the Matryoshka rotation (False only for measurements)


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: np.ndarray  # (N, dim) float32, L2-normalized
    model: str
    version: str
    dim: int
    metadata: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.vectors)


class Model(Protocol):
    info: ModelInfo

    def embed_contents(self, contents: list[Content], options: EmbedOptions) -> Embeddings: ...

    def count_tokens(self, contents: list[Content]) -> list[int]: ...


def truncate_matryoshka(vectors: np.ndarray, dim: int | None, native: int) -> np.ndarray:
    """Keep the leading ``dim`` dimensions and renormalize. (N, D) -> (N, dim)."""
    if dim is None or dim == native:
        return vectors
    if not 1 <= dim <= native:
        raise InvalidInput(f"output dimensionality {dim} is out of range; this model gives 1 to {native}")
    head = vectors[:, :dim]
    return (head / np.maximum(np.linalg.norm(head, axis=1, keepdims=True), 1e-12)).astype(np.float32)


_MODELS: dict[str, Callable[..., Model]] = {}
M = TypeVar("M")


def register_model(name: str) -> Callable[[M], M]:
    def decorate(factory: M) -> M:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = factory  # type: ignore[assignment]
        return factory

    return decorate


def model_factory(name: str, settings: Settings | None = None) -> Callable[..., Model]:
    """The factory of a built-in model, or of one registered by path in ``settings.models``.

    Raises:
        ModelNotFound: no such model, or a configured model whose backend or folder is missing.
    """
    _import_builtin_models()
    specs = {s.name: s for s in _model_specs(settings)}
    if name in _MODELS and name in specs:
        raise InvalidInput(f"{specs[name].source}: [models.{name}] shadows the built-in model {name!r}; rename it")
    if name in _MODELS:
        return _MODELS[name]
    if name in specs:
        return _configured_factory(specs[name])
    available = sorted({*_MODELS, *specs})
    raise ModelNotFound(
        f"no model named {name!r}; available: {', '.join(available)}; register one by path in the "
        "config ([models.<name>] backend = ..., path = ...; see docs/backends.md)"
    )


def available_models(settings: Settings | None = None) -> list[str]:
    _import_builtin_models()
    return sorted({*_MODELS, *(s.name for s in _model_specs(settings))})


def _model_specs(settings: Settings | None) -> tuple[ModelSpec, ...]:
    from omnivec.config import Settings

    return (settings or Settings.from_env()).models


def _configured_factory(spec: ModelSpec) -> Callable[..., Model]:
    """A model bound to weights on disk: the backend's factory, named as the user configured it."""
    from omnivec.backends.registry import backend

    info, factory = backend(spec.backend)
    check_model_path(spec)

    def build(settings: Settings | None = None) -> Model:
        from omnivec.config import Settings

        check_model_path(spec)
        model = factory(spec.path, settings or Settings.from_env())
        model.info = replace(model.info, name=spec.name)
        return model

    build.__doc__ = f"{spec.name}: backend {info.name} from {spec.path}"
    return build


def check_model_path(spec: ModelSpec) -> None:
    if not spec.path.is_dir():
        where = f" in {spec.source}" if spec.source else ""
        raise ModelNotFound(
            f"model {spec.name!r} (backend {spec.backend}) points at {spec.path}, which is not a folder; "
            f"put the weights there (docs/backends.md names the public checkpoints) or fix [models.{spec.name}] path{where}"
        )


def _import_builtin_models() -> None:
    import omnivec.models.lite  # noqa: F401  (registers "lite")
