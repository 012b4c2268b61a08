"""The qwen_vl backend on tiny random-weight Qwen3-VL and Qwen2-VL models.

Each model is built once per session with the real architecture classes, saved with
``save_pretrained`` and loaded back through the registry's factory, the path a user with real
weights takes. Random weights cannot show retrieval quality; these tests pin the mechanics:
one forward pass per Content, pooling that ignores padding, instructions, Matryoshka, limits.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from omnivec.backends import backend, registered_backends
from omnivec.backends.pooling import last_token_pool, mean_pool
from omnivec.backends.qwen_vl import QwenVLEmbedder, random_model_spec, save_random_model
from omnivec.config import Settings
from omnivec.content import Content, Part
from omnivec.errors import InvalidInput, LimitExceeded
from omnivec.models.base import EmbedOptions

CPU = Settings(device="cpu")


def _part(path: Path, mime: str) -> Part:
    return Part.from_bytes(path.read_bytes(), mime)


@pytest.fixture(scope="session")
def qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("qwen3-vl-tiny")
    save_random_model(path, "tiny", "qwen3_vl")
    return path


@pytest.fixture(scope="session")
def qwen2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("qwen2-vl-tiny")
    save_random_model(path, "tiny", "qwen2_vl")
    return path


@pytest.fixture(scope="session")
def qwen3(qwen3_dir: Path) -> Any:
    _, factory = backend("qwen-vl")
    return factory(qwen3_dir, CPU)


@pytest.fixture(scope="session")
def parts(photo_png: Path, video_mp4: Path, text_pdf: Path, speech_wav: Path) -> dict[str, Part]:
    return {
        "text": Part.from_text("a cat sleeping on a sofa"),
        "image": _part(photo_png, "image/png"),
        "video": _part(video_mp4, "video/mp4"),
        "pdf": _part(text_pdf, "application/pdf"),
        "audio": _part(speech_wav, "audio/wav"),
    }


def _embed(model: Any, *contents: tuple[Part, ...], **options: Any) -> np.ndarray:
    return model.embed_contents([Content(c) for c in contents], EmbedOptions(**options)).vectors


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_capability_card_is_registered() -> None:
    info, _ = backend("qwen-vl")
    assert info.architectures == ("qwen2_vl", "qwen3_vl")
    assert info.matryoshka and info.reference_dim == 2048
    assert info.limits["sequence_tokens"] > 0 and info.limits["video_frames"] % 2 == 0
    assert "RETRIEVAL_QUERY" in info.task_prompts
    assert "qwen-vl" in {b.name for b in registered_backends()}
    assert backend("qwen_vl") == backend("qwen-vl")  # the underscore spelling of earlier configs still works
    assert all("_" not in b.name for b in registered_backends())


def test_shapes_unit_norm_and_identity(qwen3: Any, parts: dict[str, Part]) -> None:
    out = qwen3.embed_contents(
        [Content((parts["text"],)), Content((parts["text"], parts["image"]))], EmbedOptions()
    )
    assert out.vectors.shape == (2, qwen3.info.dim) and out.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=1e-5)
    assert out.metadata[1]["model"] == qwen3.info.name and out.metadata[1]["dim"] == qwen3.info.dim
    assert "qwen3_vl-cpu-fp32" in out.version
    # the image's placeholders make the second sequence longer than its text alone
    assert out.metadata[1]["sequence_tokens"] > out.metadata[0]["sequence_tokens"] + 4
    assert out.metadata[0]["text_tokens"] == out.metadata[1]["text_tokens"] > 0


def test_deterministic_across_calls_and_reloads(qwen3: Any, qwen3_dir: Path, parts: dict[str, Part]) -> None:
    content = (parts["text"], parts["image"])
    first = _embed(qwen3, content)
    again = _embed(QwenVLEmbedder(qwen3_dir, CPU), content)
    np.testing.assert_array_equal(first, _embed(qwen3, content))
    np.testing.assert_allclose(first, again, atol=1e-6)


def test_batched_equals_single(qwen3: Any, parts: dict[str, Part]) -> None:
    """Rows of very different lengths share a padded batch; pooling must read each row's own last token."""
    contents = [
        (parts["text"],),
        (parts["image"], parts["text"]),
        (Part.from_text("short"),),
        (parts["video"],),
        (parts["pdf"], Part.from_text("page one is about cats")),
    ]
    batched = _embed(qwen3, *contents, video_audio=False)
    single = np.concatenate([_embed(qwen3, c, video_audio=False) for c in contents])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_task_instruction_changes_the_vector(qwen3: Any, parts: dict[str, Part]) -> None:
    content = (parts["text"],)
    query = _embed(qwen3, content, task="RETRIEVAL_QUERY")
    document = _embed(qwen3, content, task="RETRIEVAL_DOCUMENT")
    untasked = _embed(qwen3, content)
    assert _cos(query[0], document[0]) < 0.9999
    np.testing.assert_allclose(document, untasked, atol=1e-6)  # documents get the generic instruction
    titled = _embed(qwen3, content, task="RETRIEVAL_DOCUMENT", title="Cats")
    assert _cos(titled[0], document[0]) < 0.9999
    with pytest.raises(InvalidInput, match="unknown task type"):
        _embed(qwen3, content, task="SUMMARIZE")


def test_matryoshka_truncation(qwen3: Any, parts: dict[str, Part]) -> None:
    full = _embed(qwen3, (parts["text"],))
    head = _embed(qwen3, (parts["text"],), dim=16)
    assert head.shape == (1, 16)
    np.testing.assert_allclose(head[0], full[0, :16] / np.linalg.norm(full[0, :16]), atol=1e-6)
    with pytest.raises(InvalidInput, match="out of range"):
        _embed(qwen3, (parts["text"],), dim=qwen3.info.dim + 1)


def test_mixed_content_is_one_vector_unlike_its_parts(qwen3: Any, parts: dict[str, Part]) -> None:
    text, image = _embed(qwen3, (parts["text"],), (parts["image"],))
    (both,) = _embed(qwen3, (parts["text"], parts["image"]))
    (swapped,) = _embed(qwen3, (parts["image"], parts["text"]))
    assert max(_cos(both, text), _cos(both, image)) < 0.9999
    assert _cos(both, swapped) < 0.9999  # interleaving order is part of the input


def test_video_audio_track_is_transcribed(qwen3: Any, parts: dict[str, Part]) -> None:
    out = qwen3.embed_contents([Content((parts["video"],))] * 2, EmbedOptions())
    meta = out.metadata[0]["parts"][0]
    assert meta["frames"] % 2 == 0 and meta["frames"] >= 2
    assert "lazy dog" in meta["transcript"].lower()
    (frames_only,) = _embed(qwen3, (parts["video"],), video_audio=False)
    assert _cos(out.vectors[0], frames_only) < 0.9999
    (speech,) = _embed(qwen3, (parts["audio"],))
    assert np.isfinite(speech).all()


def test_pdf_pages_are_images_and_text(qwen3: Any, parts: dict[str, Part]) -> None:
    out = qwen3.embed_contents([Content((parts["pdf"],))], EmbedOptions())
    assert out.metadata[0]["parts"][0]["pages"] == 3
    assert out.metadata[0]["sequence_tokens"] > 3 * 4  # three pages of image placeholders plus text


def test_limits_are_enforced(qwen3_dir: Path, parts: dict[str, Part]) -> None:
    small = replace(CPU, limits=replace(CPU.limits, max_text_tokens=5, max_audio_seconds=1.0))
    model = backend("qwen-vl")[1](qwen3_dir, small)
    long_text = Part.from_text("one two three four five six seven eight nine ten")
    with pytest.raises(LimitExceeded, match="limit is 5 tokens"):
        _embed(model, (long_text,))
    cut = model.embed_contents([Content((long_text,))], EmbedOptions(auto_truncate=True))
    assert cut.metadata[0]["text_tokens"] == 5
    with pytest.raises(LimitExceeded, match="audio is"):
        _embed(model, (parts["audio"],))


def test_wrong_architecture_is_refused(tmp_path: Path) -> None:
    from transformers import Qwen2_5OmniThinkerConfig

    Qwen2_5OmniThinkerConfig().save_pretrained(tmp_path)
    with pytest.raises(InvalidInput, match="qwen_omni backend"):
        backend("qwen-vl")[1](tmp_path, CPU)


def test_qwen2_vl_through_the_registry(qwen2_dir: Path, parts: dict[str, Part]) -> None:
    model = backend("qwen-vl")[1](qwen2_dir, CPU)
    assert "qwen2_vl" in model.info.version
    assert model.info.task_prompts["RETRIEVAL_DOCUMENT"] == "You are a helpful assistant."  # GME's layout
    contents = [(parts["text"], parts["video"]), (parts["image"],), (Part.from_text("hi"),)]
    batched = _embed(model, *contents, video_audio=False)
    single = np.concatenate([_embed(model, c, video_audio=False) for c in contents])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    (video_only,) = _embed(model, (parts["video"],), video_audio=False)
    assert _cos(batched[0], video_only) < 0.9999


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_pool_reads_the_last_real_token(side: str) -> None:
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)  # (N, T, D)
    if side == "right":
        mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
        expected = torch.stack([hidden[0, 1], hidden[1, 3]])
    else:
        mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
        expected = torch.stack([hidden[0, 3], hidden[1, 3]])
    torch.testing.assert_close(last_token_pool(hidden, mask), expected)
    torch.testing.assert_close(mean_pool(hidden, mask)[1], hidden[1].mean(dim=0))


@pytest.mark.parametrize(("model_type", "billions"), [("qwen3_vl", 2.13), ("qwen2_vl", 2.21)])
def test_full_size_spec_has_the_published_parameter_count(model_type: str, billions: float) -> None:
    """The "full" config the benchmark builds is the 2B model (counted on the meta device, no weights)."""
    model_class, config, tokenizer, _ = random_model_spec("full", model_type)
    with torch.device("meta"):
        model = model_class(config)
    assert sum(p.numel() for p in model.parameters()) / 1e9 == pytest.approx(billions, abs=0.02)
    assert (
        config.text_config.vocab_size == 151_936
        and config.image_token_id == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    )


def test_public_embedder_with_a_model_registered_by_path(qwen3: Any, qwen3_dir: Path, photo: Any) -> None:
    """``[models.vl] backend = "qwen-vl"``: the public Embedder names vectors after the configured model."""
    from omnivec import Embedder
    from omnivec.config import ModelSpec

    settings = replace(CPU, models=(ModelSpec("vl", "qwen_vl", qwen3_dir),))
    out = Embedder("vl", settings=settings).embed(["a cat", ["a cat", photo]], task="RETRIEVAL_QUERY", dim=32)
    assert out.model == "vl" and out.vectors.shape == (2, 32) and out.metadata[1]["model"] == "vl"
    direct = _embed(qwen3, (Part.from_text("a cat"),), task="RETRIEVAL_QUERY", dim=32)
    np.testing.assert_allclose(out.vectors[0], direct[0], atol=1e-6)


def test_checkpoint_missing_weights_is_refused(qwen2_dir: Path, tmp_path: Path) -> None:
    """transformers would fill missing weights at random; the backend refuses instead."""
    import shutil

    from safetensors.numpy import load_file, save_file

    shutil.copytree(qwen2_dir, tmp_path, dirs_exist_ok=True)
    weights = load_file(qwen2_dir / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "visual" not in k}, tmp_path / "model.safetensors")
    with pytest.raises(InvalidInput, match="lacks weights"):
        backend("qwen-vl")[1](tmp_path, CPU)


def test_image_cost_is_capped_whatever_the_checkpoint_allows(photo: Any) -> None:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from omnivec.backends.qwen_vl import CONVENTIONS, MAX_IMAGE_TOKENS, VisualPrep

    generous = Qwen2VLImageProcessorPil(size={"shortest_edge": 3136, "longest_edge": 16384 * 28 * 28})
    visual = VisualPrep(generous)
    values, grid = visual.image(photo.resize((2000, 1500)))  # ~3800 tokens uncapped
    assert MAX_IMAGE_TOKENS // 2 < visual.tokens(grid) <= MAX_IMAGE_TOKENS
    assert values.shape == (grid[1] * grid[2], 3 * 2 * 14 * 14)
    _, small_grid = visual.image(photo)  # 451 x 300 = 173 tokens of 28 x 28 pixels: under the cap, kept
    assert 150 < visual.tokens(small_grid) < 200
    gme = VisualPrep(generous, CONVENTIONS["qwen2_vl"].image_tokens)  # GME: 256 to 1280 tokens an image
    assert 256 <= gme.tokens(gme.image(photo.resize((120, 90)))[1]) < 300
    assert 640 < gme.tokens(gme.image(photo.resize((2000, 1500)))[1]) <= 1280


def test_batches_group_similar_lengths_under_a_token_budget() -> None:
    from omnivec.backends.qwen_vl import plan_batches

    lengths = [500, 20, 30, 3000, 25, 480]
    plan = plan_batches(lengths, max_rows=3, max_tokens=1200)
    assert sorted(i for rows in plan for i in rows) == list(range(6))
    assert plan == [[1, 4, 2], [5, 0], [3]]  # shortest first; 3000 alone; rows x longest <= 1200
