"""Building blocks for ``save_random_model``: offline tokenizers for random-weight checkpoints.

Tests and benchmarks need each backend's real architecture without downloading it. Weights are
seeded random; the tokenizer is the architecture's own tokenizer class trained on a few
sentences with the ``tokenizers`` library, so the processor files load exactly as a real
checkpoint's do.
"""

from __future__ import annotations

from typing import Any

SIZES = ("tiny", "full")

CORPUS = (
    "a photo of a cat sleeping on a sofa",
    "a dog barking loudly in the park",
    "the quick brown fox jumps over the lazy dog",
    "rain falling on a tin roof at night",
    "a person speaking into a microphone",
    "music with drums, bass and an electric guitar",
    "waves crashing on a rocky beach",
    "a car engine starting on a cold morning",
    "birds singing in a forest at dawn",
    "a red bicycle leaning against a wall",
    "children laughing in a school playground",
    "an orchestra tuning before the concert",
    "coffee poured into a white cup",
    "a rocket launching into a clear blue sky",
    "footsteps on a wooden floor",
    "a telephone ringing in an empty office",
)


def check_size(size: str) -> None:
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")


def train_tokenizer(tokenizer_class: Any, vocab_size: int = 512, **kwargs: Any) -> Any:
    """The architecture's tokenizer class with a vocabulary trained on :data:`CORPUS`."""
    return tokenizer_class(**kwargs).train_new_from_iterator(list(CORPUS) * 4, vocab_size)


def hf() -> Any:
    """The transformers module, untyped: its config and processor constructors take ``**kwargs``."""
    import importlib

    return importlib.import_module("transformers")


def seeded(seed: int = 0) -> None:
    import torch

    torch.manual_seed(seed)
