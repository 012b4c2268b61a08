"""The lite model end to end on real media: every modality lands near its meaning, bad input
gets a typed error. Retrieval quality on a real suite is measured in benchmarks/quality.py."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest

from omnivec import AccessDenied, DecodeError, Embedder, LimitExceeded, Part, Settings, UnsupportedMedia
from omnivec.evaluation import synth


@pytest.fixture(scope="module")
def embedder(media_dir: Path) -> Embedder:
    return Embedder("lite", settings=Settings.from_env().with_roots(media_dir))


def best(embedder: Embedder, doc: object, candidates: list[str]) -> str:
    result = embedder.embed([doc, *candidates])
    scores = result.vectors[1:] @ result.vectors[0]
    return candidates[int(np.argmax(scores))]


CANDIDATES = ["a tabby cat", "a cup of coffee", "a rocket launch", "a quick brown fox jumps over a dog",
              "bees dancing to show where flowers are", "wolves became dogs"]


def test_photo_lands_near_its_caption(embedder: Embedder, photo_jpeg: Path) -> None:
    assert best(embedder, photo_jpeg, CANDIDATES) == "a tabby cat"


def test_speech_lands_near_its_text(embedder: Embedder, speech_wav: Path, speech_mp3: Path,
                                    speech_flac: Path, speech_ogg: Path) -> None:
    for path in (speech_wav, speech_mp3, speech_flac, speech_ogg):
        assert best(embedder, path, CANDIDATES) == "a quick brown fox jumps over a dog", path
    meta = embedder.embed([speech_wav]).metadata[0]["parts"][0]
    assert {"quick", "lazy"} <= set(meta["transcript"].lower().split())
    assert 2.0 < meta["seconds"] < 5.0


def test_video_fuses_frames_and_speech(embedder: Embedder, video_mp4: Path, video_mov: Path,
                                       video_webm: Path, video_silent_mp4: Path) -> None:
    for path in (video_mp4, video_mov, video_webm):
        result = embedder.embed([path])
        meta = result.metadata[0]["parts"][0]
        assert {"quick", "lazy"} <= set(meta["transcript"].lower().split()) and meta["frames"] >= 1, path
    silent = embedder.embed([video_silent_mp4]).metadata[0]["parts"][0]
    assert "transcript" not in silent


def test_pdf_text_layer_and_scan_agree(embedder: Embedder, text_pdf: Path, scanned_pdf: Path) -> None:
    text_vec, scan_vec = embedder.embed([text_pdf, scanned_pdf]).vectors
    assert float(text_vec @ scan_vec) > 0.85
    meta = embedder.embed([scanned_pdf]).metadata[0]["parts"][0]
    assert meta["pages"] == 3 and meta["ocr_pages"] == [0, 1, 2]
    assert "bees" in " ".join(meta["page_text"]).lower()


def test_text_in_image_is_read(embedder: Embedder) -> None:
    image = synth.render_text_image("Honey bees communicate the location of flowers by dancing.")
    assert best(embedder, image, CANDIDATES) == "bees dancing to show where flowers are"


def test_inline_bytes_equal_file_reference(embedder: Embedder, photo_png: Path) -> None:
    by_path = embedder.embed([photo_png]).vectors[0]
    by_bytes = embedder.embed([Part.from_bytes(photo_png.read_bytes(), "image/png")]).vectors[0]
    np.testing.assert_allclose(by_path, by_bytes, atol=1e-6)


def test_mixed_content_is_one_vector_between_its_parts(embedder: Embedder, photo_jpeg: Path, speech_wav: Path) -> None:
    photo, speech, mixed = embedder.embed([photo_jpeg, speech_wav, [photo_jpeg, speech_wav]]).vectors
    np.testing.assert_allclose(mixed, (photo + speech) / np.linalg.norm(photo + speech), atol=1e-5)


def test_batched_media_equals_single_calls(embedder: Embedder, photo_png: Path, speech_wav: Path, text_pdf: Path) -> None:
    items = [photo_png, speech_wav, text_pdf, "a sentence"]
    batched = embedder.embed(items).vectors
    singles = np.stack([embedder.embed([item]).vectors[0] for item in items])
    np.testing.assert_allclose(batched, singles, atol=1e-5)


def test_silence_gives_an_empty_transcript(embedder: Embedder, media_dir: Path) -> None:
    path = media_dir / "tone.wav"
    rate = 16000
    t = np.arange(rate * 3) / rate
    samples = (0.3 * np.sin(2 * math.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    meta = embedder.embed([path]).metadata[0]["parts"][0]
    assert meta["transcript"] == ""


# -- bad input -----------------------------------------------------------------------------
def test_lying_mime_type_is_refused(embedder: Embedder, photo_jpeg: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="declared image/png"):
        embedder.embed([Part.from_bytes(photo_jpeg.read_bytes(), "image/png")])


def test_corrupt_and_truncated_files(embedder: Embedder, photo_png: Path, video_mp4: Path, speech_wav: Path) -> None:
    png = photo_png.read_bytes()
    with pytest.raises(DecodeError):
        embedder.embed([Part.from_bytes(png[: len(png) // 3], "image/png")])
    with pytest.raises(DecodeError):
        embedder.embed([Part.from_bytes(video_mp4.read_bytes()[:2000], "video/mp4")])
    wav = bytearray(speech_wav.read_bytes())
    wav[20:36] = b"\xff" * 16  # break the fmt chunk
    with pytest.raises(DecodeError):
        embedder.embed([Part.from_bytes(bytes(wav), "audio/wav")])


def test_paths_outside_roots_are_refused(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("secret")
    with pytest.raises(AccessDenied):
        embedder.embed([outside])
    with pytest.raises(AccessDenied):
        embedder.embed([Path("/etc/passwd")])


def test_too_many_images_and_long_audio(embedder: Embedder, photo_png: Path, media_dir: Path) -> None:
    with pytest.raises(LimitExceeded, match="7 images; the limit is 6"):
        embedder.embed([[photo_png] * 7])
    long_wav = media_dir / "long.wav"
    with wave.open(str(long_wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000 * 90)
    with pytest.raises(LimitExceeded, match=r"90\.0 s; the limit is 80 s"):
        embedder.embed([long_wav])


def test_request_byte_limit(media_dir: Path, photo_png: Path) -> None:
    from dataclasses import replace

    from omnivec.errors import PayloadTooLarge
    from omnivec.limits import DEFAULT_LIMITS

    small = Settings(allowed_roots=(media_dir,), limits=replace(DEFAULT_LIMITS, max_request_bytes=1000))
    with pytest.raises(PayloadTooLarge):
        Embedder("lite", settings=small).embed([Part.from_bytes(photo_png.read_bytes(), "image/png")])
