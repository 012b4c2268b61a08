from __future__ import annotations

import numpy as np
import pytest

from omnivec import Embedder, InvalidInput, LimitExceeded
from omnivec.config import Settings
from omnivec.models.lite import LITE_VERSION, LiteModel, model_version


def test_vectors_are_unit_float32_and_carry_identity(lite: Embedder) -> None:
    result = lite.embed(["a red bicycle", "quarterly earnings report"])
    assert result.vectors.dtype == np.float32 and result.vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    assert (result.model, result.dim) == ("lite", 384)
    assert result.version == model_version(lite.model.settings)  # type: ignore[attr-defined]
    assert result.metadata[0]["model"] == "lite" and result.metadata[0]["dim"] == 384


def test_version_names_each_encoders_runtime_not_the_package_release() -> None:
    assert LiteModel(Settings()).info.version == f"{LITE_VERSION}+text-onnx-int8.vision-onnx-fp32"
    reference = LiteModel(Settings(runtime="torch", vision_runtime="torch")).info.version
    assert reference == f"{LITE_VERSION}+text-torch-fp32.vision-torch-fp32"
    assert LiteModel(Settings(runtime="onnx-fp32", vision_runtime="onnx-int8")).info.version.endswith(
        "+text-onnx-fp32.vision-onnx-int8"
    )
    with pytest.raises(InvalidInput, match="unknown runtime 'tensorrt'"):
        LiteModel(Settings(vision_runtime="tensorrt"))
    env = Settings.from_env({"OMNIVEC_RUNTIME": "torch", "OMNIVEC_VISION_RUNTIME": "onnx-int8"})
    assert (env.runtime, env.vision_runtime) == ("torch", "onnx-int8")


def test_rotation_keeps_full_size_similarities(lite: Embedder) -> None:
    texts = ["a dog runs on the beach", "a puppy playing by the sea", "tax law in France"]
    rotated = lite.embed(texts).vectors
    plain = lite.embed(texts, rotate=False).vectors
    np.testing.assert_allclose(rotated @ rotated.T, plain @ plain.T, atol=1e-5)
    assert not np.allclose(rotated, plain)


def test_rotation_is_orthogonal(lite: Embedder) -> None:
    r = lite.model.rotation  # type: ignore[attr-defined]
    np.testing.assert_allclose(r.T @ r, np.eye(384), atol=1e-4)


def test_matryoshka_truncates_and_renormalizes(lite: Embedder) -> None:
    full = lite.embed(["a small boat on a lake"]).vectors[0]
    short = lite.embed(["a small boat on a lake"], dim=128).vectors[0]
    assert short.shape == (128,)
    np.testing.assert_allclose(short, full[:128] / np.linalg.norm(full[:128]), atol=1e-6)
    with pytest.raises(InvalidInput, match="385 is out of range"):
        lite.embed(["x"], dim=385)


def test_task_types_are_validated_and_title_is_used(lite: Embedder) -> None:
    for task in ("RETRIEVAL_QUERY", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING",
                 "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"):
        lite.embed(["x"], task=task)
    with pytest.raises(InvalidInput, match="unknown task type 'SUMMARIZE'"):
        lite.embed(["x"], task="SUMMARIZE")
    body = "Preheat the oven and knead the dough for ten minutes."
    plain = lite.embed([body], task="RETRIEVAL_DOCUMENT").vectors[0]
    titled = lite.embed([body], task="RETRIEVAL_DOCUMENT", title="Bread recipe").vectors[0]
    assert float(plain @ titled) < 0.9999


def test_text_over_8192_tokens_is_refused_or_truncated(lite: Embedder) -> None:
    text = "word " * 9000
    with pytest.raises(LimitExceeded, match=r"9000 tokens; the limit is 8192"):
        lite.embed([text])
    result = lite.embed([text], auto_truncate=True)
    assert result.metadata[0]["text_tokens"] == 8192


def test_multi_part_content_gives_one_fused_vector(lite: Embedder) -> None:
    a, b, both = lite.embed(["a violin concert", "a volcano erupting", ["a violin concert", "a volcano erupting"]]).vectors
    assert both.shape == (384,)
    np.testing.assert_allclose(both, (a + b) / np.linalg.norm(a + b), atol=1e-5)


def test_batched_equals_single(lite: Embedder) -> None:
    texts = [f"sentence number {i} about topic {i * 7}" for i in range(40)]
    batched = lite.embed(texts, batch_size=16).vectors
    single = np.stack([lite.embed([t]).vectors[0] for t in texts[:5]])
    np.testing.assert_allclose(batched[:5], single, atol=1e-5)


def test_length_sorted_batches_return_rows_in_input_order(lite: Embedder) -> None:
    texts = ["word " * n + f"topic {n}" for n in (90, 3, 40, 1, 200, 12, 7, 60)]  # sorting reorders them
    batched = lite.embed(texts, batch_size=3)
    single = np.stack([lite.embed([t]).vectors[0] for t in texts])
    np.testing.assert_allclose(batched.vectors, single, atol=1e-5)
    tokens = [m["text_tokens"] for m in batched.metadata]
    assert tokens == [lite.embed([t]).metadata[0]["text_tokens"] for t in texts]
    assert tokens != sorted(tokens)  # the input order, not the batching order
