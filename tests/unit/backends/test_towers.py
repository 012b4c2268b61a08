"""CLIP, SigLIP 2, CLAP and the composite ``base`` on tiny random-weight checkpoints.

Random weights cannot show retrieval quality; these tests pin the mechanics every backend owes
the engine: shapes and unit norms, determinism, batching that does not change results, width
truncation, fusion of mixed parts, and refusals with actionable messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnivec.content import Content, Part, to_contents
from omnivec.errors import InvalidInput, LimitExceeded, UnsupportedMedia
from omnivec.models.base import EmbedOptions

MODELS = ("clip_model", "siglip2_model", "clap_model", "base_model")
NATIVE = EmbedOptions()


@pytest.fixture(scope="session")
def parts(photo_png: Path, speech_wav: Path) -> dict[str, Part]:
    return {
        "image": Part.from_bytes(photo_png.read_bytes(), "image/png"),
        "audio": Part.from_bytes(speech_wav.read_bytes(), "audio/wav"),
    }


def _media(model: Any, parts: dict[str, Part]) -> Part:
    return parts["image"] if "image" in model.info.modalities else parts["audio"]


def _embed(model: Any, items: list[Any], options: EmbedOptions = NATIVE) -> np.ndarray:
    return model.embed_contents(to_contents(items), options).vectors


@pytest.mark.parametrize("name", MODELS)
def test_shapes_norms_and_identity(name: str, request: pytest.FixtureRequest, parts: dict[str, Part]) -> None:
    model = request.getfixturevalue(name)
    result = model.embed_contents(to_contents(["a cat", "rain on a roof", _media(model, parts)]), NATIVE)
    assert result.vectors.shape == (3, model.info.dim)
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    assert result.metadata[2]["model"] == model.info.name
    assert result.metadata[2]["parts"][0]["modality"] in ("image", "audio")
    assert not np.allclose(result.vectors[0], result.vectors[1])  # different texts, different vectors


@pytest.mark.parametrize("name", MODELS)
def test_deterministic_and_batching_does_not_change_results(
    name: str, request: pytest.FixtureRequest, parts: dict[str, Part]
) -> None:
    model = request.getfixturevalue(name)
    items = ["a cat", "a much longer sentence about a dog barking in the park", _media(model, parts), ["a cat", _media(model, parts)]]
    batched = _embed(model, items)
    np.testing.assert_array_equal(batched, _embed(model, items))
    single = np.concatenate([_embed(model, [item]) for item in items])
    np.testing.assert_allclose(batched, single, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_output_width_is_truncated_and_renormalized(name: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(name)
    full = _embed(model, ["a cat", "a dog"])
    head = _embed(model, ["a cat", "a dog"], EmbedOptions(dim=8))
    assert head.shape == (2, 8)
    np.testing.assert_allclose(head, full[:, :8] / np.linalg.norm(full[:, :8], axis=1, keepdims=True), atol=1e-6)
    with pytest.raises(InvalidInput, match="out of range"):
        _embed(model, ["a cat"], EmbedOptions(dim=model.info.dim + 1))


@pytest.mark.parametrize("name", MODELS)
def test_mixed_content_is_the_normalized_sum_of_its_parts(
    name: str, request: pytest.FixtureRequest, parts: dict[str, Part]
) -> None:
    model = request.getfixturevalue(name)
    text, media = _embed(model, ["a cat on a sofa", _media(model, parts)])
    fused = _embed(model, [["a cat on a sofa", _media(model, parts)]])[0]
    expected = (text + media) / np.linalg.norm(text + media)
    np.testing.assert_allclose(fused, expected, atol=1e-5)


def test_each_model_refuses_what_it_has_no_tower_for(
    clip_model: Any, clap_model: Any, parts: dict[str, Part]
) -> None:
    with pytest.raises(UnsupportedMedia, match="audio"):
        _embed(clip_model, [parts["audio"]])
    with pytest.raises(UnsupportedMedia, match="image"):
        _embed(clap_model, [parts["image"]])


def test_text_over_the_tower_context_is_refused_or_cut(clip_model: Any) -> None:
    long = " ".join(["cat"] * 200)
    with pytest.raises(LimitExceeded, match="at most 77 tokens"):
        _embed(clip_model, [long])
    cut = clip_model.embed_contents(to_contents([long]), EmbedOptions(auto_truncate=True))
    assert cut.vectors.shape == (1, clip_model.info.dim)
    assert cut.metadata[0]["text_tokens"] == 77
    assert clip_model.count_tokens([Content((Part.from_text(long),))])[0] > 77


def test_pdf_pages_and_video_frames_go_through_the_image_tower(
    clip_model: Any, text_pdf: Path, video_mp4: Path
) -> None:
    pdf = Part.from_bytes(text_pdf.read_bytes(), "application/pdf")
    video = Part.from_bytes(video_mp4.read_bytes(), "video/mp4")
    result = clip_model.embed_contents(to_contents([pdf, video]), NATIVE)
    assert result.metadata[0]["parts"][0]["pages"] == 3
    assert result.metadata[1]["parts"][0]["frames"] >= 1
    assert result.metadata[1]["parts"][0]["audio"] is False  # CLIP has no audio tower: frames only


def test_clap_splits_long_audio_into_windows_and_hears_a_video_track(
    clap_model: Any, video_mp4: Path
) -> None:
    from omnivec.media.audio import encode_wav

    long = Part.from_bytes(encode_wav(np.random.default_rng(0).normal(0, 0.1, 16_000 * 23).astype(np.float32)), "audio/wav")
    video = Part.from_bytes(video_mp4.read_bytes(), "video/mp4")
    result = clap_model.embed_contents(to_contents([long, video]), NATIVE)
    assert result.metadata[0]["parts"][0]["windows"] == 3  # 23 s in 10 s windows
    assert result.metadata[1]["parts"][0]["audio"] is True


def test_base_puts_video_frames_and_its_audio_track_together(base_model: Any, video_mp4: Path, photo_png: Path) -> None:
    video = Part.from_bytes(video_mp4.read_bytes(), "video/mp4")
    with_track, frames_only = (
        base_model.embed_contents(to_contents([video]), EmbedOptions(video_audio=flag)) for flag in (True, False)
    )
    assert with_track.metadata[0]["parts"][0]["audio"] is True
    assert frames_only.metadata[0]["parts"][0]["audio"] is False
    assert not np.allclose(with_track.vectors, frames_only.vectors)


def test_siglip2_also_loads_the_fixed_resolution_layout(tmp_path: Path, photo_png: Path) -> None:
    """google/siglip2-base-patch16-224 ships SigLIP 2 weights in the SigLIP (v1) classes."""
    from omnivec.backends.clip import save_random_model
    from omnivec.backends.registry import backend
    from omnivec.config import Settings

    save_random_model(tmp_path, "tiny", "siglip")
    model = backend("siglip2")[1](tmp_path, Settings(device="cpu"))
    assert model.towers.model_type == "siglip"
    items = ["a cat", Part.from_bytes(photo_png.read_bytes(), "image/png"), ["a cat", "a dog"]]
    batched = _embed(model, items)
    assert batched.shape == (3, model.info.dim)
    np.testing.assert_allclose(batched, np.concatenate([_embed(model, [x]) for x in items]), atol=1e-5)


def test_base_audio_is_clap_audio_through_the_bridge(base_model: Any, clap_model: Any, parts: dict[str, Part]) -> None:
    """Same CLAP checkpoint: base's audio vector is CLAP's audio vector mapped by W, b, renormalized."""
    clap_vector = _embed(clap_model, [parts["audio"]])
    bridge = base_model.towers.bridge
    expected = bridge.apply(clap_vector)  # (1, 16) -> (1, 16)
    np.testing.assert_allclose(_embed(base_model, [parts["audio"]]), expected, atol=1e-5)
    mixed = _embed(base_model, [["a dog barking", parts["audio"]]])[0]
    text = _embed(base_model, ["a dog barking"])[0]
    np.testing.assert_allclose(mixed, (text + expected[0]) / np.linalg.norm(text + expected[0]), atol=1e-5)
