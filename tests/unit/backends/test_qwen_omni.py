"""The qwen-omni backend on a tiny random-weight Qwen2.5-Omni thinker.

Built once per session with the real architecture class, saved with ``save_pretrained`` and
loaded through the registry's factory. Audio reaches the model as log-mel features (no
transcript), so these tests also pin that speech changes the vector without any ASR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from omnivec.backends import backend
from omnivec.backends.qwen_omni import audio_tokens, random_model_spec, save_random_model
from omnivec.config import Settings
from omnivec.content import Content, Part
from omnivec.errors import InvalidInput, LimitExceeded
from omnivec.media.audio import encode_wav
from omnivec.models.base import EmbedOptions

CPU = Settings(device="cpu")


@pytest.fixture(scope="session")
def omni_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("qwen-omni-tiny")
    save_random_model(path, "tiny")
    return path


@pytest.fixture(scope="session")
def omni(omni_dir: Path) -> Any:
    _, factory = backend("qwen-omni")
    return factory(omni_dir, CPU)


@pytest.fixture(scope="session")
def parts(
    photo_png: Path, video_mp4: Path, video_silent_mp4: Path, text_pdf: Path, speech_wav: Path
) -> dict[str, Part]:
    return {
        "text": Part.from_text("a cat sleeping on a sofa"),
        "image": Part.from_bytes(photo_png.read_bytes(), "image/png"),
        "video": Part.from_bytes(video_mp4.read_bytes(), "video/mp4"),
        "silent": Part.from_bytes(video_silent_mp4.read_bytes(), "video/mp4"),
        "pdf": Part.from_bytes(text_pdf.read_bytes(), "application/pdf"),
        "audio": Part.from_bytes(speech_wav.read_bytes(), "audio/wav"),
    }


def _embed(model: Any, *contents: tuple[Part, ...], **options: Any) -> np.ndarray:
    return model.embed_contents([Content(c) for c in contents], EmbedOptions(**options)).vectors


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_capability_card() -> None:
    info, _ = backend("qwen-omni")
    assert "audio" in info.modalities and info.architectures == ("qwen2_5_omni_thinker",)
    assert not info.matryoshka and info.reference_checkpoint == "nvidia/omni-embed-nemotron-3b"
    assert (
        info.task_prompts["RETRIEVAL_QUERY"] == "query: "
        and info.task_prompts["RETRIEVAL_DOCUMENT"] == "passage: "
    )


def test_audio_is_heard_natively(omni: Any, parts: dict[str, Part]) -> None:
    out = omni.embed_contents([Content((parts["audio"],))], EmbedOptions())
    meta = out.metadata[0]
    assert out.vectors.shape == (1, omni.info.dim)
    assert "transcript" not in meta["parts"][0]  # no ASR anywhere on this path
    seconds = meta["parts"][0]["audio_seconds"]
    # placeholders: the audio encoder's tokens for 100 mel frames a second, plus bos/eos and the prompt
    assert meta["sequence_tokens"] > audio_tokens(int(seconds * 100))
    tone = encode_wav(
        (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)
    )
    (other,) = _embed(omni, (Part.from_bytes(tone, "audio/wav"),))
    assert _cos(out.vectors[0], other) < 0.9999


def test_batched_equals_single(omni: Any, parts: dict[str, Part]) -> None:
    """Mixed lengths in one padded batch (text, image, audio of two lengths, video with its track)."""
    short = encode_wav(np.zeros(8000, np.float32))
    contents = [
        (parts["text"],),
        (parts["image"], parts["text"]),
        (parts["audio"],),
        (Part.from_bytes(short, "audio/wav"), Part.from_text("silence")),
        (parts["video"],),
        (parts["pdf"],),
    ]
    batched = _embed(omni, *contents)
    single = np.concatenate([_embed(omni, c) for c in contents])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    np.testing.assert_array_equal(batched, _embed(omni, *contents))  # deterministic


def test_video_with_its_audio_track_is_one_vector(omni: Any, parts: dict[str, Part]) -> None:
    out = omni.embed_contents([Content((parts["video"],))], EmbedOptions())
    meta = out.metadata[0]["parts"][0]
    assert meta["frames"] >= 2 and meta["audio_seconds"] > 2.0
    (frames_only,) = _embed(omni, (parts["video"],), video_audio=False)
    (track_only,) = _embed(omni, (parts["audio"],))
    assert max(_cos(out.vectors[0], frames_only), _cos(out.vectors[0], track_only)) < 0.9999
    silent = omni.embed_contents([Content((parts["silent"],))], EmbedOptions())
    assert "audio_seconds" not in silent.metadata[0]["parts"][0]


def test_text_and_image_mix_differs_from_each(omni: Any, parts: dict[str, Part]) -> None:
    text, image = _embed(omni, (parts["text"],), (parts["image"],))
    (both,) = _embed(omni, (parts["text"], parts["image"]))
    assert max(_cos(both, text), _cos(both, image)) < 0.9999


def test_query_and_passage_prefixes(omni: Any, parts: dict[str, Part]) -> None:
    query, passage, untasked = (
        _embed(omni, (parts["text"],), task=task)[0]
        for task in ("RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", None)
    )
    assert _cos(query, passage) < 0.9999
    np.testing.assert_allclose(passage, untasked, atol=1e-6)


def test_refusals(omni: Any, omni_dir: Path, parts: dict[str, Part]) -> None:
    with pytest.raises(InvalidInput, match="not trained for Matryoshka"):
        _embed(omni, (parts["text"],), dim=16)
    from dataclasses import replace

    short = replace(CPU, limits=replace(CPU.limits, max_audio_seconds=1.0, max_video_with_audio_seconds=1.0))
    model = backend("qwen-omni")[1](omni_dir, short)
    with pytest.raises(LimitExceeded, match="audio is"):
        _embed(model, (parts["audio"],))
    with pytest.raises(LimitExceeded, match="video_audio=False"):
        _embed(model, (parts["video"],))
    assert _embed(model, (parts["video"],), video_audio=False).shape == (1, omni.info.dim)


def test_wrong_architecture_is_refused(tmp_path: Path) -> None:
    from transformers import Qwen2VLConfig

    Qwen2VLConfig().save_pretrained(tmp_path)
    with pytest.raises(InvalidInput, match="loads qwen2_5_omni_thinker"):
        backend("qwen-omni")[1](tmp_path, CPU)


def test_full_size_spec_is_the_3b_thinker() -> None:
    """Qwen2.5-Omni-3B's thinker: 3.1 B language model, 0.67 B vision, 0.64 B audio (meta device, no weights)."""
    model_class, config, _, images, audio = random_model_spec("full")
    with torch.device("meta"):
        model = model_class(config)
    sizes = {name: sum(p.numel() for p in m.parameters()) / 1e9 for name, m in model.model.named_children()}
    assert sizes == pytest.approx({"audio_tower": 0.638, "visual": 0.669, "language_model": 3.086}, abs=0.01)
    assert audio.feature_size == 128 and images.patch_size == 14


def test_batched_equals_single_without_vision(omni: Any, parts: dict[str, Part]) -> None:
    """Audio and text only: the thinker takes its 1-D position path, which padding must not disturb."""
    contents = [(parts["audio"],), (Part.from_text("a longer text than the other ones, by some way"),)]
    contents.append(
        (Part.from_bytes(encode_wav(np.zeros(16000, np.float32)), "audio/wav"), Part.from_text("x"))
    )
    batched = _embed(omni, *contents)
    single = np.concatenate([_embed(omni, c) for c in contents])
    np.testing.assert_allclose(batched, single, atol=1e-5)
