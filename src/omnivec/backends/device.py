"""Device, precision and batch size for the transformers backends.

CUDA when present (bf16 where the GPU supports it, fp16 otherwise), CPU with fp32 otherwise;
``Settings.device`` ("auto", "cpu", "cuda") overrides the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnivec.config import Settings
from omnivec.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Placement:
    device: str  # "cpu" or "cuda"
    dtype: Any  # torch dtype
    batch_size: int  # contents per forward pass


def placement(settings: Settings, *, cpu_batch: int = 8, gpu_batch: int = 64) -> Placement:
    """Where and in what precision a backend runs; batch size scales with the device."""
    import torch

    wanted = settings.device
    if wanted not in ("auto", "cpu", "cuda"):
        raise InvalidInput(f"unknown device {wanted!r}; expected auto, cpu or cuda")
    has_cuda = torch.cuda.is_available()
    if wanted == "cuda" and not has_cuda:
        raise InvalidInput("device cuda was asked for, but torch sees no CUDA device")
    if wanted == "cuda" or (wanted == "auto" and has_cuda):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return Placement("cuda", dtype, gpu_batch)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    return Placement("cpu", torch.float32, cpu_batch)
