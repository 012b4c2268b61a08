"""decode_audio / probe_audio_seconds on real speech in every container, and on files that lie."""

from __future__ import annotations

import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from omnivec.errors import DecodeError, LimitExceeded, UnsupportedMedia
from omnivec.media.audio import decode_audio, probe_audio_seconds

AUDIO_FIXTURES = [
    "speech_wav",
    "speech_mp3",
    "speech_flac",
    "speech_ogg",
    "video_mp4",
    "video_mov",
    "video_webm",
]


def _tone_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="module")
def lying_mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """90 s of MP3 whose Xing header claims 100 frames (about 3.5 s)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed")
    path = tmp_path_factory.mktemp("lie") / "long.mp3"
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=90:sample_rate=16000",
         "-c:a", "libmp3lame", "-b:a", "32k", str(path)],
        check=True,
    )  # fmt: skip
    data = bytearray(path.read_bytes())
    tag = data.find(b"Info") if b"Info" in data[:4096] else data.find(b"Xing")
    assert 0 <= tag < 4096 and data[tag + 7] & 0x01, "LAME wrote no frame count to patch"
    data[tag + 8 : tag + 12] = (100).to_bytes(4, "big")
    return bytes(data)


@pytest.mark.parametrize("fixture", AUDIO_FIXTURES)
def test_decodes_speech_from_every_container(fixture: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(fixture).read_bytes()
    seconds = probe_audio_seconds(data)
    samples = decode_audio(data, max_seconds=80)
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert 2.5 < seconds < 3.5
    assert abs(samples.size / 16000 - seconds) < 0.1
    assert np.abs(samples).max() <= 1.0
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence


def test_lossless_formats_decode_identically(speech_wav: Path, speech_flac: Path) -> None:
    np.testing.assert_array_equal(
        decode_audio(speech_wav.read_bytes(), 80), decode_audio(speech_flac.read_bytes(), 80)
    )


def test_sample_rate_is_honoured(speech_wav: Path) -> None:
    data = speech_wav.read_bytes()
    assert abs(decode_audio(data, 80, sample_rate=8000).size * 2 - decode_audio(data, 80).size) <= 2


def test_declared_duration_over_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    data = _tone_wav(tmp_path / "long.wav", seconds=90).read_bytes()
    assert probe_audio_seconds(data) == pytest.approx(90.0)
    started = time.perf_counter()
    with pytest.raises(LimitExceeded, match=r"audio is 90.0 s; the limit is 80 s"):
        decode_audio(data, max_seconds=80)
    assert time.perf_counter() - started < 0.5


def test_container_lying_about_its_duration_is_stopped_while_decoding(lying_mp3: bytes) -> None:
    assert probe_audio_seconds(lying_mp3) < 10  # the header's claim
    with pytest.raises(LimitExceeded, match=r"decodes to more than 81.0 s although its container declares"):
        decode_audio(lying_mp3, max_seconds=80)


def test_audio_within_the_limit_plus_slack_is_decoded(lying_mp3: bytes) -> None:
    assert decode_audio(lying_mp3, max_seconds=89.5).size == pytest.approx(90 * 16000, abs=2000)


def test_wav_with_a_broken_header_is_a_decode_error(speech_wav: Path) -> None:
    data = bytearray(speech_wav.read_bytes())
    data[20:36] = bytes(16)  # the fmt chunk: codec, channels, rate, ... all zero
    with pytest.raises(DecodeError, match="cannot decode audio"):
        decode_audio(bytes(data), 80)


def test_wav_with_no_samples_is_a_decode_error(speech_wav: Path) -> None:
    with pytest.raises(DecodeError):
        decode_audio(speech_wav.read_bytes()[:44], 80)  # the header alone


def test_video_without_audio_says_so(video_silent_mp4: Path) -> None:
    with pytest.raises(DecodeError, match=r"no audio stream \(it holds video\)"):
        decode_audio(video_silent_mp4.read_bytes(), 80)


def test_non_audio_bytes_are_unsupported(photo_png: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="the bytes are a PNG image"):
        decode_audio(photo_png.read_bytes(), 80)
    with pytest.raises(UnsupportedMedia):
        probe_audio_seconds(b"just some text")


def test_empty_bytes_are_a_decode_error() -> None:
    with pytest.raises(DecodeError, match=r"empty \(0 bytes\)"):
        decode_audio(b"", 80)
