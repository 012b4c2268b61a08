"""One frozen Settings object for the library; every field is also an ``OMNIVEC_*`` variable.

| variable | meaning | default |
|---|---|---|
| OMNIVEC_ALLOWED_ROOTS | ``:``-separated folders that file references may read | (none) |
| OMNIVEC_CACHE_DIR | derived tables (class-name embeddings, rotations, ONNX graphs) | ``~/.cache/omnivec`` |
| OMNIVEC_MAX_REQUEST_BYTES | media bytes per request | 67108864 |
| OMNIVEC_MODEL | default model | ``lite`` |
| OMNIVEC_DEVICE | ``cpu``, ``cuda`` or ``auto`` | ``auto`` |
| OMNIVEC_PRECISION | model backends' weights: ``auto`` (CUDA bf16/fp16, CPU fp32), ``fp32``, ``bf16`` or ``fp16`` | ``auto`` |
| OMNIVEC_THREADS | intra-op threads for inference (0 = number of cores) | 0 |
| OMNIVEC_CONFIG | TOML file whose ``[models.<name>]`` tables register models by local path | (none) |
| OMNIVEC_RUNTIME | text encoder runtime: ``torch``, ``onnx-fp32`` or ``onnx-int8`` | ``onnx-int8`` |
| OMNIVEC_VISION_RUNTIME | image classifier runtime: ``torch``, ``onnx-fp32`` or ``onnx-int8`` | ``onnx-fp32`` |
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from omnivec.errors import InvalidInput
from omnivec.limits import DEFAULT_LIMITS, Limits


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "omnivec"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model registered by local path: ``[models.<name>] backend = "clip"  path = "/models/clip"``."""

    name: str  # what users pass as ``model=`` / ``--model``
    backend: str  # a registered backend (``omnivec models`` lists them)
    path: Path  # folder with the weights in ``save_pretrained`` layout
    source: str = ""  # where it was configured, for error messages


def read_model_specs(tables: Mapping[str, Any], source: str, base_dir: Path | None = None) -> tuple[ModelSpec, ...]:
    """``{name: {"backend": ..., "path": ...}}`` -> specs; relative paths are taken from ``base_dir``."""
    specs = []
    for name, table in tables.items():
        if not isinstance(table, Mapping) or set(table) != {"backend", "path"}:
            raise InvalidInput(f"{source}: [models.{name}] needs exactly two keys, backend and path")
        path = Path(str(table["path"])).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        specs.append(ModelSpec(str(name), str(table["backend"]), path, source))
    return tuple(specs)


def read_models_toml(path: Path) -> tuple[ModelSpec, ...]:
    """The ``[models.*]`` tables of a TOML file (other keys are the server's business)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from None
    return read_model_specs(raw.get("models", {}), str(path), path.parent)


@dataclass(frozen=True, slots=True)
class Settings:
    allowed_roots: tuple[Path, ...] = ()  # file references must resolve inside one of these
    cache_dir: Path = field(default_factory=_default_cache_dir)
    limits: Limits = DEFAULT_LIMITS
    model: str = "lite"
    device: str = "auto"
    precision: str = "auto"  # model backends: "auto", "fp32", "bf16" or "fp16" (see backends.device)
    threads: int = 0  # 0: use every core
    models: tuple[ModelSpec, ...] = ()  # models registered by local path (see ModelSpec)
    # Encoder runtimes, part of the model version. The defaults are the fastest that pass the
    # quality gate (mean cosine >= 0.99 to the reference, eval recall within 0.01); torch is the reference.
    runtime: str = "onnx-int8"  # text encoder: "torch", "onnx-fp32" or "onnx-int8"
    vision_runtime: str = "onnx-fp32"  # image classifier: "torch", "onnx-fp32" or "onnx-int8"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        if roots := env.get("OMNIVEC_ALLOWED_ROOTS"):
            settings = replace(settings, allowed_roots=tuple(Path(r) for r in roots.split(os.pathsep) if r))
        if cache := env.get("OMNIVEC_CACHE_DIR"):
            settings = replace(settings, cache_dir=Path(cache))
        if max_bytes := env.get("OMNIVEC_MAX_REQUEST_BYTES"):
            settings = replace(settings, limits=replace(settings.limits, max_request_bytes=int(max_bytes)))
        if model := env.get("OMNIVEC_MODEL"):
            settings = replace(settings, model=model)
        if device := env.get("OMNIVEC_DEVICE"):
            settings = replace(settings, device=device)
        if precision := env.get("OMNIVEC_PRECISION"):
            settings = replace(settings, precision=precision)
        if runtime := env.get("OMNIVEC_RUNTIME"):
            settings = replace(settings, runtime=runtime)
        if vision_runtime := env.get("OMNIVEC_VISION_RUNTIME"):
            settings = replace(settings, vision_runtime=vision_runtime)
        if threads := env.get("OMNIVEC_THREADS"):
            settings = replace(settings, threads=int(threads))
        if config := env.get("OMNIVEC_CONFIG"):
            settings = replace(settings, models=read_models_toml(Path(config)))
        return settings

    def with_roots(self, *roots: Path) -> Settings:
        return replace(self, allowed_roots=(*self.allowed_roots, *roots))
