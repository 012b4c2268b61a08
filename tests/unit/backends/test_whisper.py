"""``lite-whisper``: lite with a transformers Whisper checkpoint as its speech recognizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnivec.backends.registry import backend
from omnivec.backends.whisper import LiteWhisperModel, TransformersWhisperAsr, _speech_windows
from omnivec.config import Settings
from omnivec.content import Part, to_contents
from omnivec.media.audio import decode_audio
from omnivec.models.base import EmbedOptions

CPU = Settings(device="cpu")


def test_the_backend_swaps_only_the_recognizer(whisper_dir: Path) -> None:
    model = backend("lite-whisper")[1](whisper_dir, CPU)
    assert isinstance(model, LiteWhisperModel)
    assert isinstance(model.asr, TransformersWhisperAsr)
    assert model.info.name == "lite-whisper" and "+whisper-" in model.info.version
    assert model.info.dim == 384 and model.info.matryoshka


def test_speech_is_decoded_deterministically_and_silence_gives_no_transcript(
    whisper_dir: Path, speech_wav: Path
) -> None:
    asr = TransformersWhisperAsr(whisper_dir, CPU)
    samples = decode_audio(speech_wav.read_bytes(), 80.0)
    windows = _speech_windows(samples)  # what Whisper is given: the speech, found by Silero VAD
    assert windows and 0 <= windows[0][0] < windows[-1][1] <= len(samples)
    assert _speech_windows(np.tile(samples, 12)) != [] and all(b - a <= 30 * 16_000 for a, b in _speech_windows(np.tile(samples, 12)))
    first, second = asr.transcribe(samples), asr.transcribe(samples)
    assert first == second and first.seconds == len(samples) / 16_000
    assert _speech_windows(np.zeros(16_000 * 3, np.float32)) == []
    assert asr.transcribe(np.zeros(16_000 * 3, np.float32)).text == ""  # no speech found: nothing invented


def test_audio_embeds_through_the_transcript(whisper_dir: Path, speech_wav: Path) -> None:
    model = backend("lite-whisper")[1](whisper_dir, CPU)
    result = model.embed_contents(to_contents([Part.from_bytes(speech_wav.read_bytes(), "audio/wav")]), EmbedOptions(dim=64))
    assert result.vectors.shape == (1, 64)
    assert "transcript" in result.metadata[0]["parts"][0]
