"""Larger Whisper models as the speech recognizer of ``lite`` (backend ``lite-whisper``).

``lite`` embeds speech through its transcript, made by the bundled Whisper tiny.en. This
backend keeps everything else of ``lite`` and swaps in a transformers
``WhisperForConditionalGeneration`` loaded from a local folder (e.g. ``openai/whisper-small``):
better transcripts of accented, noisy or fast English speech, at a higher cost per second.
As with the bundled recognizer, only what Silero VAD (shipped with faster-whisper) marks as
speech is transcribed, so music and noise give an empty transcript instead of an invented one;
speech is decoded greedily in windows of up to 30 s (deterministic), at most 8 tokens per
second of audio (+16), which real speech never reaches and Whisper's repetition loops do.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.backends.device import placement
from omnivec.backends.random_weights import check_size, hf, seeded, train_tokenizer
from omnivec.backends.registry import BackendInfo, register_backend
from omnivec.backends.towers import model_version, read_model_type
from omnivec.config import Settings
from omnivec.encoders.asr import SAMPLE_RATE, Transcript
from omnivec.encoders.registry import require
from omnivec.models.lite import LiteModel

LITE_WHISPER = BackendInfo(
    name="lite-whisper",
    description="lite with a larger Whisper (transformers) as its speech recognizer",
    modalities=("text", "image", "audio", "video", "pdf"),
    architectures=("whisper",),
    matryoshka=True,
    reference_dim=384,
    reference_checkpoint="openai/whisper-small",
    limits={"audio_seconds": 80, "asr_window_seconds": 30},
)

WINDOW_SECONDS = 30.0  # Whisper's receptive field
MAX_NEW_TOKENS = 220  # per window; 30 s of fast speech is ~100 words
# Fast speech is ~4 words (~6 tokens) a second: a budget of 8 tokens a second (+16) never cuts
# real speech and stops the repetition loops Whisper can fall into on noise.
TOKENS_PER_SECOND, TOKENS_BASE = 8, 16
SPECIAL_TOKENS = (
    "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>", "<|startoflm|>",
    "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>",
)


class TransformersWhisperAsr:
    """Speech -> text with a transformers Whisper checkpoint; same contract as ``WhisperAsr``."""

    def __init__(self, path: Path, settings: Settings, language: str = "en") -> None:
        t = hf()

        read_model_type(path, LITE_WHISPER.architectures, LITE_WHISPER.name)
        self.place = placement(settings)
        self.model = (
            t.WhisperForConditionalGeneration.from_pretrained(path, dtype=self.place.dtype, local_files_only=True)
            .to(self.place.device)
            .eval()
        )
        self.processor = t.WhisperProcessor.from_pretrained(path, local_files_only=True)
        self.language = language
        self.version = model_version("whisper", path, self.place.dtype)

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """(N,) float32 mono at 16 kHz -> transcript of the speech in it (empty if none)."""
        seconds = len(samples) / SAMPLE_RATE
        if len(samples) < SAMPLE_RATE // 10:
            return Transcript("", (), seconds)
        windows = _speech_windows(samples)
        if not windows:
            return Transcript("", (), seconds)
        texts = self._decode([samples[a:b] for a, b in windows])
        kept = tuple((a / SAMPLE_RATE, b / SAMPLE_RATE, t) for (a, b), t in zip(windows, texts, strict=True) if t)
        return Transcript(" ".join(t for _, _, t in kept).strip(), kept, seconds)

    def _decode(self, clips: list[np.ndarray]) -> list[str]:
        import torch

        inputs = self.processor.feature_extractor(clips, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        features = inputs.input_features.to(self.place.device, self.place.dtype)  # (W, mels, 3000)
        # English-only checkpoints (*.en) take no language or task tokens.
        multilingual = bool(getattr(self.model.generation_config, "is_multilingual", False))
        prompt = {"language": self.language, "task": "transcribe"} if multilingual else {}
        # The decoder holds max_target_positions tokens, the 4 prompt tokens included.
        longest = max(len(c) for c in clips) / SAMPLE_RATE
        budget = min(MAX_NEW_TOKENS, TOKENS_BASE + math.ceil(TOKENS_PER_SECOND * longest))
        budget = min(budget, int(self.model.config.max_target_positions) - 4)
        with torch.inference_mode():
            ids = self.model.generate(
                features, do_sample=False, num_beams=1, max_new_tokens=budget, **prompt
            )
        return [t.strip() for t in self.processor.tokenizer.batch_decode(ids, skip_special_tokens=True)]


def _speech_windows(samples: np.ndarray) -> list[tuple[int, int]]:
    """Sample ranges of speech (Silero VAD), merged into windows of at most 30 s."""
    vad = require("faster_whisper.vad", "faster-whisper")
    regions = vad.get_speech_timestamps(samples, vad.VadOptions(min_silence_duration_ms=500))
    size = int(WINDOW_SECONDS * SAMPLE_RATE)
    windows: list[tuple[int, int]] = []
    for region in regions:
        start, end = int(region["start"]), int(region["end"])
        while end - start > size:  # one region longer than a window: cut it
            windows.append((start, start + size))
            start += size
        if windows and end - windows[-1][0] <= size:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


class LiteWhisperModel(LiteModel):
    """``lite`` whose ``asr`` is a transformers Whisper checkpoint (everything else unchanged)."""

    def __init__(self, path: Path, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.whisper_path = path
        read_model_type(path, LITE_WHISPER.architectures, LITE_WHISPER.name)
        asr_version = model_version("whisper", path, placement(self.settings).dtype).split("+", 1)[1]
        self.info = replace(
            self.info,
            name=LITE_WHISPER.name,
            version=f"{self.info.version}+{asr_version}",
            description=f"{self.info.description.split('; speech by')[0]}; speech by Whisper ({path.name})",
        )

    @property
    def asr(self) -> Any:
        with self._lock:
            if self._asr is None:
                self._asr = TransformersWhisperAsr(self.whisper_path, self.settings)
            return self._asr


@register_backend(LITE_WHISPER)
def load_lite_whisper(path: Path, settings: Settings) -> LiteWhisperModel:
    return LiteWhisperModel(path, settings)


def save_random_model(path: Path, size: str) -> None:
    """A random-weight Whisper saved to ``path``; ``size="full"`` has whisper-small's shapes."""
    t = hf()

    check_size(size)
    tokenizer = train_tokenizer(t.WhisperTokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    ids = dict(zip(SPECIAL_TOKENS, tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)), strict=True))
    eos = tokenizer.eos_token_id
    common = {"decoder_start_token_id": ids["<|startoftranscript|>"], "eos_token_id": eos, "pad_token_id": eos, "bos_token_id": eos}
    if size == "tiny":
        config = t.WhisperConfig(
            vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
            max_target_positions=32, **common,
        )
    else:  # whisper-small
        config = t.WhisperConfig(
            vocab_size=51865, d_model=768, encoder_layers=12, decoder_layers=12, encoder_attention_heads=12,
            decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072, num_mel_bins=80, **common,
        )
    seeded()
    model = t.WhisperForConditionalGeneration(config).eval()
    model.generation_config = t.GenerationConfig(
        **common, max_length=config.max_target_positions, is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"], suppress_tokens=[], begin_suppress_tokens=[],
    )
    model.save_pretrained(path)
    t.WhisperProcessor(feature_extractor=t.WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(path)
