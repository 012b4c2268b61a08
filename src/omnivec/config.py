"""One frozen Settings object for the library; every field is also an ``OMNIVEC_*`` variable.

| variable | meaning | default |
|---|---|---|
| OMNIVEC_ALLOWED_ROOTS | ``:``-separated folders that file references may read | (none) |
| OMNIVEC_CACHE_DIR | derived tables (class-name embeddings, rotations, ONNX graphs) | ``~/.cache/omnivec`` |
| OMNIVEC_MAX_REQUEST_BYTES | media bytes per request | 67108864 |
| OMNIVEC_MODEL | default model | ``lite`` |
| OMNIVEC_DEVICE | ``cpu``, ``cuda`` or ``auto`` | ``auto`` |
| OMNIVEC_THREADS | intra-op threads for inference (0 = number of cores) | 0 |
| OMNIVEC_RUNTIME | text encoder runtime: ``torch``, ``onnx-fp32`` or ``onnx-int8`` | ``torch`` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from omnivec.limits import DEFAULT_LIMITS, Limits


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "omnivec"


@dataclass(frozen=True, slots=True)
class Settings:
    allowed_roots: tuple[Path, ...] = ()  # file references must resolve inside one of these
    cache_dir: Path = field(default_factory=_default_cache_dir)
    limits: Limits = DEFAULT_LIMITS
    model: str = "lite"
    device: str = "auto"
    threads: int = 0  # 0: use every core
    runtime: str = "torch"  # text encoder: "torch", "onnx-fp32" or "onnx-int8" (part of the model version)

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
        if runtime := env.get("OMNIVEC_RUNTIME"):
            settings = replace(settings, runtime=runtime)
        if threads := env.get("OMNIVEC_THREADS"):
            settings = replace(settings, threads=int(threads))
        return settings

    def with_roots(self, *roots: Path) -> Settings:
        return replace(self, allowed_roots=(*self.allowed_roots, *roots))
