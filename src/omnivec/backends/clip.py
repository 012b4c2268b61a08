"""CLIP and SigLIP 2: a text tower and an image tower trained contrastively into one space.

Both load with transformers from a local folder (``save_pretrained`` layout, e.g. a clone of
``openai/clip-vit-base-patch32`` or ``google/siglip2-base-patch16-224``). Images, PDF pages and
video frames go through the image tower; PDFs and videos are the mean of their pages' / frames'
vectors (see :mod:`omnivec.backends.towers`). SigLIP pads every text to its 64-token context,
as it was trained; CLIP pads to the longest text of the batch (its causal mask makes padding
invisible).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from omnivec.backends.device import placement
from omnivec.backends.random_weights import check_size, hf, seeded, train_tokenizer
from omnivec.backends.registry import BackendInfo, register_backend
from omnivec.backends.towers import (
    TowerModel,
    load_pretrained,
    model_version,
    read_model_type,
    tower_features,
)
from omnivec.config import Settings

CLIP = BackendInfo(
    name="clip",
    description="OpenAI CLIP: text and image towers in one space (images, PDF pages, video frames)",
    modalities=("text", "image", "video", "pdf"),
    architectures=("clip",),
    matryoshka=False,
    reference_dim=512,
    reference_checkpoint="openai/clip-vit-base-patch32",
    limits={"text_tokens": 77, "video_frames": 8},
)
SIGLIP2 = BackendInfo(
    name="siglip2",
    description="Google SigLIP 2 (sigmoid loss): text and image towers in one space",
    modalities=("text", "image", "video", "pdf"),
    architectures=("siglip", "siglip2"),
    matryoshka=False,
    reference_dim=768,
    reference_checkpoint="google/siglip2-base-patch16-224",
    limits={"text_tokens": 64, "video_frames": 8},
)


class VisionTextTowers:
    """The text and image towers of a CLIP-family checkpoint; rows are unit vectors."""

    modalities: tuple[str, ...] = ("text", "image")
    sample_rate = 0
    window_seconds = 0.0

    def __init__(self, path: Path, settings: Settings, info: BackendInfo) -> None:
        import torch

        self.model_type = read_model_type(path, info.architectures, info.name)
        self.place = placement(settings)
        self.model, processor = load_pretrained(path, self.place.dtype, self.place.device)
        self.tokenizer = processor.tokenizer
        self.image_processor = processor.image_processor
        self.siglip = self.model_type != "clip"
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)
        self.batch_size = self.place.batch_size
        self.version = model_version(info.name, path, self.place.dtype)
        self._torch = torch
        self.dim = int(self.embed_texts([""], truncate=True).shape[1])

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts)["input_ids"]]

    def embed_texts(self, texts: list[str], truncate: bool) -> np.ndarray:
        # SigLIP was trained on texts padded to its full context; CLIP's causal mask hides padding.
        padding = "max_length" if self.siglip else True
        inputs = self.tokenizer(
            texts, padding=padding, truncation=True, max_length=self.max_text_tokens, return_tensors="pt"
        )
        return self._features(self.model.get_text_features, inputs)

    def embed_images(self, images: list[Any]) -> np.ndarray:
        inputs = self.image_processor(images=[image.convert("RGB") for image in images], return_tensors="pt")
        return self._features(self.model.get_image_features, inputs)

    def embed_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError("CLIP-family models have no audio tower")

    def _features(self, method: Any, inputs: Any) -> np.ndarray:
        return tower_features(method, inputs, self.place, "pixel_values")


def _model(path: Path, settings: Settings, info: BackendInfo) -> TowerModel:
    towers = VisionTextTowers(path, settings, info)
    description = f"{info.description} ({towers.model_type}, {path.name})"
    return TowerModel.of(info, towers, settings, version=towers.version, description=description)


@register_backend(CLIP)
def load_clip(path: Path, settings: Settings) -> TowerModel:
    return _model(path, settings, CLIP)


@register_backend(SIGLIP2)
def load_siglip2(path: Path, settings: Settings) -> TowerModel:
    return _model(path, settings, SIGLIP2)


def save_random_model(path: Path, size: str, architecture: str = "clip") -> None:
    """A random-weight checkpoint saved to ``path``; ``architecture`` is its ``model_type``.

    ``"clip"``: ViT-B/32 at ``size="full"``. ``"siglip"``: the fixed-resolution layout that
    ``google/siglip2-base-patch16-224`` ships (SigLIP 2 weights in SigLIP classes).
    ``"siglip2"``: the NaFlex layout (any aspect ratio, up to 256 patches).
    """
    check_size(size)
    savers = {"clip": _save_clip, "siglip": _save_siglip, "siglip2": _save_siglip2}
    if architecture not in savers:
        raise ValueError(f"architecture must be one of {', '.join(savers)}, not {architecture!r}")
    savers[architecture](path, size)


def save_random_siglip2(path: Path, size: str) -> None:
    """Backend ``siglip2``: full size in the reference checkpoint's layout, tiny in the NaFlex one."""
    save_random_model(path, size, "siglip" if size == "full" else "siglip2")


_TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}


def _save_clip(path: Path, size: str) -> None:
    t = hf()

    tokenizer = train_tokenizer(t.CLIPTokenizer)
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    if size == "tiny":
        config = t.CLIPConfig(
            text_config={**_TINY, "vocab_size": len(tokenizer), "max_position_embeddings": 77, **ids},
            vision_config={**_TINY, "image_size": 32, "patch_size": 8},
            projection_dim=16,
        )
        side = 32
    else:
        config = t.CLIPConfig(text_config=ids)  # the defaults are ViT-B/32
        side = 224
    seeded()
    t.CLIPModel(config).eval().save_pretrained(path)
    images = t.CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    t.CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(path)


def _save_siglip2(path: Path, size: str) -> None:
    t = hf()

    tokenizer = train_tokenizer(t.Siglip2Tokenizer)
    if size == "tiny":
        config = t.Siglip2Config(
            text_config={**_TINY, "vocab_size": len(tokenizer), "max_position_embeddings": 64},
            vision_config={**_TINY, "patch_size": 8, "num_patches": 16},
        )
        patch, patches = 8, 16
    else:
        config = t.Siglip2Config()  # the defaults are the base model, patch 16, 256 patches
        patch, patches = 16, 256
    seeded()
    t.Siglip2Model(config).eval().save_pretrained(path)
    images = t.Siglip2ImageProcessorPil(patch_size=patch, max_num_patches=patches)
    t.Siglip2Processor(image_processor=images, tokenizer=tokenizer).save_pretrained(path)


def _save_siglip(path: Path, size: str) -> None:
    t = hf()
    tokenizer = train_tokenizer(t.GemmaTokenizer)
    if size == "tiny":
        config = t.SiglipConfig(
            text_config={**_TINY, "vocab_size": len(tokenizer), "max_position_embeddings": 64},
            vision_config={**_TINY, "patch_size": 8, "image_size": 32},
        )
        side = 32
    else:  # google/siglip2-base-patch16-224: base towers, Gemma's 256k vocabulary
        config = t.SiglipConfig(text_config={"vocab_size": 256_000}, vision_config={"patch_size": 16, "image_size": 224})
        side = 224
    seeded()
    t.SiglipModel(config).eval().save_pretrained(path)
    images = t.SiglipImageProcessorPil(size={"height": side, "width": side})
    t.SiglipProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(path)


def image_backend_of(path: Path) -> BackendInfo:
    """CLIP or SigLIP 2, from the ``model_type`` of the checkpoint in ``path``."""
    model_type = read_model_type(path, CLIP.architectures + SIGLIP2.architectures, "clip/siglip2")
    return CLIP if model_type in CLIP.architectures else SIGLIP2
