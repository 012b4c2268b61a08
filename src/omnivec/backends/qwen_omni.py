"""The ``qwen_omni`` backend: the Qwen2.5-Omni thinker, which hears audio natively, as an embedder.

In the manner of omni-embed-nemotron (built on the Qwen2.5-Omni-3B thinker, talker dropped), a
Content becomes one user turn whose first text is an E5-style prefix, ``query: `` for queries
(every task type but RETRIEVAL_DOCUMENT) or ``passage: `` for documents::

    <|im_start|>user\\n{prefix}{text, <|vision_bos|><|IMAGE|>...<|vision_eos|>,
    <|audio_bos|><|AUDIO|>...<|audio_eos|>, ... in part order}<|im_end|>

and its vector is the mean of the final hidden states over the real tokens (mean pooling, as
omni-embed-nemotron does), L2-normalized. Audio goes through the thinker's own Whisper-style
audio encoder (128-bin log-mel features, no transcript). A video gives its sampled frames as one
video and then, as omni-embed-nemotron does, its audio track as a separate audio segment
(the streams are not interleaved in time chunks). PDFs are pages as images plus their text layer.

omni-embed-nemotron is not trained with Matryoshka losses, so asking for fewer dimensions than
the native width is refused rather than silently returning a weak vector.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from omnivec.backends.pooling import PASSAGE_PREFIX, QUERY_PREFIX, QUERY_TASKS, mean_pool, prefix_for
from omnivec.backends.qwen_vl import (
    LIMITS,
    Convention,
    QwenVLEmbedder,
    TokenSequence,
    build_tokenizer,
    load_weights,
    save_weights,
    token_id,
    visual_inputs,
)
from omnivec.backends.registry import BackendInfo, register_backend
from omnivec.config import Settings
from omnivec.errors import InvalidInput
from omnivec.limits import DEFAULT_LIMITS

SAMPLE_RATE = 16_000  # Hz, what the Whisper-style feature extractor expects
OMNI_IMAGE_TOKENS = 1280  # merged visual tokens per image at most

TASK_PROMPTS = {task: QUERY_PREFIX for task in sorted(QUERY_TASKS)} | {"RETRIEVAL_DOCUMENT": PASSAGE_PREFIX}

QWEN_OMNI_INFO = BackendInfo(
    name="qwen-omni",
    description=(
        "Qwen2.5-Omni thinker embedding text, images, audio (natively, no transcript), video frames "
        "with their audio track, and PDF pages in one forward pass (mean pooling, query/passage prefixes)"
    ),
    modalities=("text", "image", "audio", "video", "pdf"),
    architectures=("qwen2_5_omni_thinker",),
    matryoshka=False,
    reference_dim=2048,
    reference_checkpoint="nvidia/omni-embed-nemotron-3b",
    limits={**LIMITS, "audio_seconds": DEFAULT_LIMITS.max_audio_seconds},
    task_prompts=TASK_PROMPTS,
)

_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_bos|>",
    "<|vision_eos|>",
    "<|IMAGE|>",
    "<|VIDEO|>",
    "<|audio_bos|>",
    "<|audio_eos|>",
    "<|AUDIO|>",
)


def audio_tokens(frames: int) -> int:
    """Tokens the thinker's audio encoder gives for ``frames`` mel frames (two stride-2 stages)."""
    return ((frames - 1) // 2 + 1 - 2) // 2 + 1


class QwenOmniEmbedder(QwenVLEmbedder):
    """A Qwen2.5-Omni thinker checkpoint in a local folder, as an omnivec Model."""

    card = QWEN_OMNI_INFO
    vision_start, vision_end, image_token, video_token = (
        "<|vision_bos|>",
        "<|vision_eos|>",
        "<|IMAGE|>",
        "<|VIDEO|>",
    )
    placeholders: ClassVar[tuple[tuple[str, str], ...]] = (
        ("image_token_id", image_token),
        ("video_token_id", video_token),
        ("audio_token_id", "<|AUDIO|>"),
    )
    wrong_architecture_hint = (
        "model_type qwen2_5_omni_thinker: save `model.thinker` of a full Qwen2.5-Omni checkpoint"
    )
    # the instruction fields are unused here (prefixes instead); 4 to 1280 tokens of 28 x 28 pixels an image
    conventions: ClassVar[dict[str, Convention]] = {
        "qwen2_5_omni_thinker": Convention("", "<|im_end|>", (4, OMNI_IMAGE_TOKENS)),
    }

    def __init__(self, path: Path, settings: Settings) -> None:
        from transformers import WhisperFeatureExtractor

        super().__init__(path, settings)
        self.audio = WhisperFeatureExtractor.from_pretrained(path)
        self.ids.update({name: token_id(self.tokenizer, name) for name in ("<|audio_bos|>", "<|audio_eos|>")})

    def _load_model(self, path: Path) -> Any:
        from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniThinkerModel

        return load_weights(Qwen2_5OmniThinkerModel, path, self.where)

    def _prompt_head(self, task: str | None) -> str:
        return f"<|im_start|>user\n{prefix_for(task)}"

    def _task_prompts(self) -> dict[str, str]:
        return dict(TASK_PROMPTS)

    def _add_audio(self, seq: TokenSequence, samples: np.ndarray, meta: dict[str, Any]) -> None:
        """Native audio: log-mel features for the thinker's audio encoder, one placeholder per output token."""
        out = self.audio(
            samples.astype(np.float32),
            sampling_rate=SAMPLE_RATE,
            padding="longest",
            truncation=False,
            return_attention_mask=True,
            return_tensors="np",
        )
        frames = int(out["attention_mask"][0].sum())
        features = np.asarray(out["input_features"][0][:, :frames], np.float32)  # (mel bins, frames)
        seq.audio_features.append(features)
        n = audio_tokens(frames)
        seq.ids += [self.ids["<|audio_bos|>"], *[self.ids["<|AUDIO|>"]] * n, self.ids["<|audio_eos|>"]]
        meta["audio_seconds"] = round(len(samples) / SAMPLE_RATE, 3)

    # -- the forward pass ---------------------------------------------------------------------------
    def forward(self, batch: Sequence[TokenSequence], ids: Any, mask: Any) -> Any:
        """(N, T) ids and mask -> (N, D) mean-pooled hidden states (not normalized)."""
        import torch

        device, dtype = self.where.device, self.where.dtype
        inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "use_cache": False}
        inputs |= {"use_audio_in_video": False, **visual_inputs(batch, self.where, video_seconds=True)}
        features = [f for s in batch for f in s.audio_features]
        if features:
            width = max(f.shape[1] for f in features)
            padded = np.zeros((len(features), features[0].shape[0], width), np.float32)  # (A, mel, frames)
            feature_mask = np.zeros((len(features), width), np.int64)
            for k, f in enumerate(features):
                padded[k, :, : f.shape[1]] = f
                feature_mask[k, : f.shape[1]] = 1
            inputs["input_features"] = torch.from_numpy(padded).to(device, dtype)
            inputs["feature_attention_mask"] = torch.from_numpy(feature_mask).to(device)
        hidden = self.model(**inputs).last_hidden_state  # (N, T, D)
        return mean_pool(hidden, mask)  # (N, D)


@register_backend(QWEN_OMNI_INFO)
def load_qwen_omni(path: Path, settings: Settings) -> QwenOmniEmbedder:
    """Factory: a Qwen2.5-Omni thinker folder (config, weights, tokenizer, preprocessor)."""
    return QwenOmniEmbedder(Path(path), settings)


# -- random-weight models of the real architecture ----------------------------------------------

QWEN_OMNI_SPECIAL_TOKENS = ("<|endoftext|>", *_TOKENS)


def save_random_model(path: Path, size: str) -> None:
    """Write a random-weight Qwen2.5-Omni thinker, its tokenizer and its (image + audio) preprocessor.

    Args:
        path: folder to write.
        size: "tiny" (seconds to build; tests) or "full" (the Qwen2.5-Omni-3B thinker's shapes with
            the real vocabulary size; random weights give the real compute cost).
    """
    import torch

    model_class, config, tokenizer, images, audio_features = random_model_spec(size)
    torch.manual_seed(0)
    path = Path(path)
    save_weights(model_class, config, path, half=size == "full")
    tokenizer.save_pretrained(path)
    # One preprocessor_config.json holds both processors' settings, as in the Qwen2.5-Omni checkpoints.
    merged = {**audio_features.to_dict(), **images.to_dict()}
    merged.pop("mel_filters", None)
    (path / "preprocessor_config.json").write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


# Shapes of the random thinkers: "full" is Qwen2.5-Omni-3B's (omni-embed-nemotron-3b's backbone:
# 3.09 B language model, 0.67 B vision, 0.64 B audio), "tiny" builds in seconds.
# fmt: off
RANDOM_SHAPES: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "text": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                     num_key_value_heads=2, vocab_size=151_936,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]}),
        "audio": dict(d_model=1280, encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120),
        "vision": dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16,
                       fullatt_block_indexes=[7, 15, 23, 31]),
    },
    "tiny": {
        "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=2_048,
                     rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}),
        "audio": dict(d_model=32, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64),
        "vision": dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, fullatt_block_indexes=[0]),
    },
}
# fmt: on


def random_model_spec(size: str) -> tuple[Any, Any, Any, Any, Any]:
    """(model class, config, tokenizer, image processor, audio feature extractor); nothing is allocated."""
    from transformers import (
        Qwen2_5OmniThinkerConfig,
        Qwen2_5OmniThinkerForConditionalGeneration,
        WhisperFeatureExtractor,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if size not in ("tiny", "full"):
        raise InvalidInput(f"unknown random model size {size!r}; expected tiny or full")
    tokenizer = build_tokenizer(QWEN_OMNI_SPECIAL_TOKENS)
    ids = {t: token_id(tokenizer, t) for t in QWEN_OMNI_SPECIAL_TOKENS}
    tiny = size == "tiny"
    text, audio, vision = (RANDOM_SHAPES[size][k] for k in ("text", "audio", "vision"))
    # not declared fields of the thinker config, but its M-RoPE code reads them
    vision_ids: dict[str, Any] = {
        "vision_start_token_id": ids["<|vision_bos|>"],
        "vision_end_token_id": ids["<|vision_eos|>"],
    }
    config = Qwen2_5OmniThinkerConfig(
        text_config=dict(
            max_position_embeddings=32_768,
            tie_word_embeddings=True,
            pad_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            **text,
        ),
        audio_config=dict(
            num_mel_bins=128, output_dim=text["hidden_size"], n_window=100, max_source_positions=1500, **audio
        ),
        vision_config=dict(
            out_hidden_size=text["hidden_size"],
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=112,
            **vision,
        ),
        audio_token_index=ids["<|AUDIO|>"],
        image_token_index=ids["<|IMAGE|>"],
        video_token_index=ids["<|VIDEO|>"],
        audio_start_token_id=ids["<|audio_bos|>"],
        audio_end_token_id=ids["<|audio_eos|>"],
        **vision_ids,
        user_token_id=ids["<|im_start|>"],
        tie_word_embeddings=True,
    )
    factor = 28
    images = Qwen2VLImageProcessorPil(
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
        size={
            "shortest_edge": 4 * factor * factor,
            "longest_edge": (16 if tiny else OMNI_IMAGE_TOKENS) * factor * factor,
        },
    )
    audio_features = WhisperFeatureExtractor(  # type: ignore[no-untyped-call]
        feature_size=128, sampling_rate=SAMPLE_RATE, hop_length=160, chunk_length=30, n_fft=400
    )
    return Qwen2_5OmniThinkerForConditionalGeneration, config, tokenizer, images, audio_features
