"""CLAP: a text tower and an audio tower (HTS-AT) trained contrastively into one space.

Loads with transformers from a local folder (e.g. a clone of ``laion/clap-htsat-unfused``).
Audio is decoded at the feature extractor's rate (48 kHz for the LAION checkpoints), split
into windows of its ``max_length_s`` (10 s) and each window embedded alone; a part's vector is
the mean of its windows. A video contributes its audio track.
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

CLAP = BackendInfo(
    name="clap",
    description="LAION CLAP: text and audio towers in one space (sounds, music, speech as sound)",
    modalities=("text", "audio", "video"),
    architectures=("clap",),
    matryoshka=False,
    reference_dim=512,
    reference_checkpoint="laion/clap-htsat-unfused",
    limits={"text_tokens": 512, "audio_window_seconds": 10, "sample_rate": 48_000},
)


class AudioTextTowers:
    """The text and audio towers of a CLAP checkpoint; rows are unit vectors."""

    modalities: tuple[str, ...] = ("text", "audio")

    def __init__(self, path: Path, settings: Settings) -> None:
        import torch

        read_model_type(path, CLAP.architectures, CLAP.name)
        self.place = placement(settings)
        self.model, processor = load_pretrained(path, self.place.dtype, self.place.device)
        self.tokenizer = processor.tokenizer
        self.features = processor.feature_extractor
        self.sample_rate = int(self.features.sampling_rate)
        self.window_seconds = float(self.features.nb_max_samples) / self.sample_rate
        # RoBERTa's positions start after the padding index: two fewer usable positions than the table.
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings) - 2
        self.batch_size = self.place.batch_size
        self.version = model_version(CLAP.name, path, self.place.dtype)
        self._torch = torch
        self.dim = int(self.embed_texts([""], truncate=True).shape[1])

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts)["input_ids"]]

    def embed_texts(self, texts: list[str], truncate: bool) -> np.ndarray:
        inputs = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_text_tokens, return_tensors="pt")
        return self._features(self.model.get_text_features, inputs)

    def embed_images(self, images: list[Any]) -> np.ndarray:
        raise NotImplementedError("CLAP has no image tower")

    def embed_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        # Every clip is at most one window: the extractor pads it by repetition, never crops at random.
        inputs = self.features(
            [np.asarray(c, np.float32) for c in clips], sampling_rate=self.sample_rate, return_tensors="pt"
        )
        return self._features(self.model.get_audio_features, inputs)

    def _features(self, method: Any, inputs: Any) -> np.ndarray:
        return tower_features(method, inputs, self.place, "input_features")


@register_backend(CLAP)
def load_clap(path: Path, settings: Settings) -> TowerModel:
    towers = AudioTextTowers(path, settings)
    return TowerModel.of(CLAP, towers, settings, version=towers.version, description=f"{CLAP.description} ({path.name})")


def save_random_model(path: Path, size: str) -> None:
    """A random-weight CLAP saved to ``path``; ``size="full"`` has the HTS-AT unfused shapes."""
    t = hf()

    check_size(size)
    tokenizer = train_tokenizer(t.RobertaTokenizer)
    if size == "tiny":
        config = t.ClapConfig(
            text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
                         "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 80,
                         "projection_dim": 16},
            audio_config={"spec_size": 256, "window_size": 8, "num_mel_bins": 64, "patch_embeds_hidden_size": 16,
                          "depths": [1, 1], "num_attention_heads": [2, 2], "hidden_size": 32, "projection_dim": 16,
                          "enable_fusion": False},
            projection_dim=16,
        )
    else:
        config = t.ClapConfig(audio_config={"enable_fusion": False})  # the defaults are HTS-AT + RoBERTa base
    seeded()
    t.ClapModel(config).eval().save_pretrained(path)
    features = t.ClapFeatureExtractor(feature_size=64, sampling_rate=48_000, max_length_s=10, truncation="rand_trunc")
    t.ClapProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(path)
