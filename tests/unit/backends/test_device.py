"""Device and precision placement of the transformers backends (the CPU paths; no GPU here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from omnivec.backends.device import placement
from omnivec.backends.registry import backend
from omnivec.config import Settings
from omnivec.content import Part, to_contents
from omnivec.errors import InvalidInput
from omnivec.models.base import EmbedOptions

CPU_BF16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def test_cpu_defaults_to_fp32() -> None:
    for precision in ("auto", "fp32"):
        assert placement(Settings(device="cpu", precision=precision)).dtype == torch.float32


def test_bf16_on_a_cpu_is_opt_in_and_checked() -> None:
    settings = Settings(device="cpu", precision="bf16")
    if CPU_BF16:
        assert placement(settings).dtype == torch.bfloat16
    else:
        with pytest.raises(InvalidInput, match="no bf16 support"):
            placement(settings)


@pytest.mark.parametrize(("precision", "message"), [("fp16", "for GPUs"), ("int4", "unknown precision")])
def test_unusable_precisions_are_refused(precision: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        placement(Settings(device="cpu", precision=precision))


def test_settings_read_the_precision_from_the_environment() -> None:
    assert Settings.from_env({"OMNIVEC_PRECISION": "bf16"}).precision == "bf16"


@pytest.mark.skipif(not CPU_BF16, reason="this CPU has no bf16 support")
def test_a_bf16_model_is_close_to_fp32_and_versioned_apart(clip_dir: Path, photo_png: Path) -> None:
    factory = backend("clip")[1]
    fp32 = factory(clip_dir, Settings(device="cpu"))
    bf16 = factory(clip_dir, Settings(device="cpu", precision="bf16"))
    items = to_contents(["a cat on a sofa", "rain on a roof", Part.from_bytes(photo_png.read_bytes(), "image/png")])
    a, b = (m.embed_contents(items, EmbedOptions()).vectors for m in (fp32, bf16))
    assert b.dtype == np.float32
    cosines = (a * b).sum(1)
    assert cosines.min() > 0.98, cosines
    assert not np.array_equal(a, b)  # really computed in another precision
    assert fp32.info.version != bf16.info.version  # vectors of the two precisions are not mixed unknowingly
