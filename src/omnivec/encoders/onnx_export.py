"""ONNX Runtime graphs of the lite encoders: exported once, quantized once, cached on disk.

Graphs are keyed by a hash of the weights they came from, so new weights give new graphs and
a cold start after the first reuses the files. fp32 graphs come from torch's dynamo exporter
(the TorchScript exporter mistraces transformers' attention masks); int8 graphs are ONNX
Runtime's dynamic quantization of the fp32 graph (weights int8, activations quantized on the fly)
for transformers, and static quantization (activation ranges calibrated once) for convnets.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omnivec.encoders.registry import require

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "int8")


def cached_graph(
    folder: Path, stem: str, precision: str, export: Callable[[Path], None],
    quantize: Callable[[Path, Path], None] | None = None,
) -> Path:
    """Path of ``{stem}-{precision}.onnx`` in ``folder``, exporting/quantizing it if absent.

    ``quantize(fp32, int8)`` writes the int8 graph; the default is :func:`quantize_int8`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    fp32 = folder / f"{stem}-fp32.onnx"
    if not fp32.exists():
        logger.info("exporting %s to ONNX (once; cached at %s)", stem, fp32)
        _atomic(fp32, export)
    if precision == "fp32":
        return fp32
    int8 = folder / f"{stem}-int8.onnx"
    if not int8.exists():
        logger.info("quantizing %s to int8 (once)", stem)
        _atomic(int8, lambda tmp: (quantize or quantize_int8)(fp32, tmp))
    return int8


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def quantize_int8(src: Path, dst: Path) -> None:
    quantization = require("onnxruntime.quantization", "onnxruntime")
    # Only MatMuls with a constant weight (the linear layers): quantizing the attention products
    # too costs ~5 points of cosine to fp32. Per-channel scales keep small-norm rows precise.
    quantization.quantize_dynamic(
        str(src), str(dst), weight_type=quantization.QuantType.QInt8, per_channel=True,
        op_types_to_quantize=["MatMul", "Gemm"], extra_options={"MatMulConstBOnly": True},
    )


def fuse_bert(path: Path, heads: int, hidden: int) -> None:
    """Rewrite a BERT-style fp32 graph in place with ONNX Runtime's GELU-with-bias fusion.

    Residual adds and LayerNorms stay apart: ONNX Runtime's fused SkipLayerNormalization kernel
    is slower here than the two ops it replaces (see :func:`session`).
    """
    optimizer = require("onnxruntime.transformers.optimizer", "onnxruntime")
    fusion_options = require("onnxruntime.transformers.fusion_options", "onnxruntime")
    options = fusion_options.FusionOptions("bert")
    options.enable_skip_layer_norm = False
    model = optimizer.optimize_model(
        str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1, optimization_options=options
    )
    model.save_model_to_file(str(path))


def export_module(module: Any, args: tuple[Any, ...], path: Path, inputs: list[str], outputs: list[str],
                  dynamic: dict[str, dict[int, str]]) -> None:
    torch = require("torch", "torch==2.13.0")
    require("onnxscript", "onnxscript")
    torch.onnx.export(
        module, args, str(path), input_names=inputs, output_names=outputs,
        dynamic_axes=dynamic, opset_version=18, dynamo=True, external_data=False,
    )


def session(path: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (0: one per core).

    Idle pool threads sleep instead of spinning: several sessions (text, vision, OCR) and the
    media decoders share a small machine, and spinning threads steal their cores.
    """
    ort = require("onnxruntime", "onnxruntime")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ONNX Runtime's SkipLayerNormalization kernel (residual add + LayerNorm in one op) is slower
    # than the two ops on these short sequences: MiniLM on one thread, int8 one window per call
    # 2.52 -> 1.90 ms per sentence without it, fp32 batches 6.2 -> 5.9 ms; vectors unchanged.
    return ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=["SkipLayerNormFusion"]
    )
