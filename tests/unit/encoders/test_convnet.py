"""EfficientNet-Lite0 on its three runtimes: the ONNX graphs compute the torch reference's function.

The graphs live in the default cache (``~/.cache/omnivec/onnx``), so only the first run on a
machine pays for the export and the int8 calibration; ``omnivec build`` makes them too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omnivec.encoders.convnet import GRAPH_RECIPE, EfficientNetLite0, default_weights
from omnivec.models.tables import weights_key

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "horse", "brick", "page", "clock")


@pytest.fixture(scope="module")
def images(photos: dict[str, Image.Image]) -> list[Image.Image]:
    return [photos[name] for name in PHOTOS if name in photos]


@pytest.fixture(scope="module")
def reference(images: list[Image.Image]) -> np.ndarray:
    return EfficientNetLite0(runtime="torch").classify(images)  # (N, 1000)


def test_onnx_fp32_computes_the_torch_probabilities(images: list[Image.Image], reference: np.ndarray) -> None:
    fast = EfficientNetLite0(runtime="onnx-fp32").classify(images)
    np.testing.assert_allclose(fast, reference, atol=1e-4)
    assert (fast.argmax(1) == reference.argmax(1)).all()


def test_onnx_int8_keeps_the_top_classes(images: list[Image.Image], reference: np.ndarray) -> None:
    quantized = EfficientNetLite0(runtime="onnx-int8").classify(images)
    np.testing.assert_allclose(quantized.sum(1), 1.0, atol=1e-4)
    # Mostly the same top class; each reference top class stays in the int8 top 3; close distributions.
    assert (quantized.argmax(1) == reference.argmax(1)).mean() >= 0.75
    top3 = np.argsort(-quantized, axis=1)[:, :3]
    assert all(ref in row for ref, row in zip(reference.argmax(1), top3, strict=True))
    cosine = (quantized * reference).sum(1) / np.linalg.norm(quantized, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.mean() >= 0.95, cosine


def test_graph_is_cached_by_weights_hash(tmp_path: Path) -> None:
    cache = Path.home() / ".cache" / "omnivec"
    weights = default_weights()
    first = EfficientNetLite0.onnx_graph(weights, "onnx-fp32", cache)
    written = first.stat().st_mtime_ns
    again = EfficientNetLite0(runtime="onnx-fp32", cache_dir=cache).graph
    assert again == first and first.stat().st_mtime_ns == written  # reused, not exported again
    assert weights_key(weights, GRAPH_RECIPE) in first.name
    changed = tmp_path / "weights.pth"
    shutil.copyfile(weights, changed)
    with changed.open("r+b") as f:  # other weights (one byte differs) must not reuse that graph
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    assert weights_key(changed, GRAPH_RECIPE) != weights_key(weights, GRAPH_RECIPE)


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="vision runtime must be one of"):
        EfficientNetLite0(runtime="tensorrt")
