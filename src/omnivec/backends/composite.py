"""The composite ``base`` model: CLIP/SigLIP space for text and images, CLAP audio bridged in.

Text, images, PDF pages and video frames are embedded by the CLIP (or SigLIP 2) towers; audio,
and a video's audio track, by CLAP's audio tower followed by the text-pivot bridge fitted with
``omnivec align`` (see :mod:`omnivec.backends.align` for the method and its limits). Parts of
one Content fuse as ``normalize(sum)``, as in :mod:`omnivec.backends.towers`.

The model folder is what ``omnivec align --out`` writes: ``base.json`` naming the two model
folders and ``bridge.npz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from omnivec.backends.align import BaseConfig, align, load_base_config
from omnivec.backends.clap import AudioTextTowers
from omnivec.backends.clap import save_random_model as save_random_clap
from omnivec.backends.clip import VisionTextTowers, image_backend_of
from omnivec.backends.clip import save_random_model as save_random_clip
from omnivec.backends.random_weights import CORPUS, check_size
from omnivec.backends.registry import BackendInfo, register_backend
from omnivec.backends.towers import TowerModel
from omnivec.config import Settings

BASE = BackendInfo(
    name="base",
    description="CLIP/SigLIP space for text and images; CLAP audio mapped in by a caption-fitted bridge",
    modalities=("text", "image", "audio", "video", "pdf"),
    architectures=("clip", "siglip", "siglip2", "clap"),
    matryoshka=False,
    reference_dim=512,
    reference_checkpoint="openai/clip-vit-base-patch32 + laion/clap-htsat-unfused",
    limits={"text_tokens": 77, "audio_window_seconds": 10, "video_frames": 8},
)


class BridgedTowers:
    """Text and image from the image model; audio from CLAP through the bridge."""

    modalities: tuple[str, ...] = ("text", "image", "audio")

    def __init__(self, config: BaseConfig, settings: Settings) -> None:
        self.image = VisionTextTowers(config.image_model, settings, image_backend_of(config.image_model))
        self.audio = AudioTextTowers(config.audio_model, settings)
        self.bridge = config.bridge
        if self.bridge.weight.shape != (self.audio.dim, self.image.dim):
            raise ValueError(
                f"the bridge maps {self.bridge.weight.shape[0]} -> {self.bridge.weight.shape[1]} dimensions, but the "
                f"models give {self.audio.dim} and {self.image.dim}; refit it with `omnivec align`"
            )
        self.dim = self.image.dim
        self.max_text_tokens = self.image.max_text_tokens
        self.sample_rate = self.audio.sample_rate
        self.window_seconds = self.audio.window_seconds
        self.batch_size = min(self.image.batch_size, self.audio.batch_size)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.image.count_tokens(texts)

    def embed_texts(self, texts: list[str], truncate: bool) -> np.ndarray:
        return self.image.embed_texts(texts, truncate)

    def embed_images(self, images: list[Any]) -> np.ndarray:
        return self.image.embed_images(images)

    def embed_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        return self.bridge.apply(self.audio.embed_audio(clips))  # (N, Da) -> (N, Dc)


@register_backend(BASE)
def load_base(path: Path, settings: Settings) -> TowerModel:
    config = load_base_config(path)
    towers = BridgedTowers(config, settings)
    version = f"{towers.image.version}+{towers.audio.version.split('+', 1)[1]}+bridge-{config.bridge_tag}"
    description = f"{config.image_backend} {config.image_model.name} + clap {config.audio_model.name} (bridged)"
    return TowerModel.of(BASE, towers, settings, version=version, description=description)


def save_random_model(path: Path, size: str) -> None:
    """Random-weight CLIP and CLAP in ``path/image`` and ``path/audio``, bridged on a few captions."""
    check_size(size)
    save_random_clip(path / "image", size)
    save_random_clap(path / "audio", size)
    align(path / "audio", path / "image", list(CORPUS), path, Settings(device="cpu"))
