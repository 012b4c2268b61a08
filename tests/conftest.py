"""Shared session fixtures: real media generated once per test session with omnivec.evaluation.synth.

Each fixture builds its file on first use into one temporary folder, so a test run only pays
for the media it needs (a few hundred milliseconds in all). No decoder is mocked anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from omnivec.evaluation import synth

SPEECH_TEXT = "The quick brown fox jumps over the lazy dog."
PDF_PARAGRAPHS = [
    "Cats sleep for most of the day and hunt at dusk.",
    "Dogs were domesticated from wolves thousands of years ago.",
    "Honey bees communicate the location of flowers by dancing.",
]
VIDEO_SECONDS = 3.0
VIDEO_PHOTOS = ("chelsea", "coffee", "rocket")  # one per second of the test videos


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    """scikit-image's bundled sample photos by name, as RGB."""
    return dict(synth.skimage_photos())


@pytest.fixture(scope="session")
def photo(photos: dict[str, Image.Image]) -> Image.Image:
    return photos["chelsea"]  # 451 x 300 RGB


def _save(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


@pytest.fixture(scope="session")
def photo_png(photo: Image.Image, media_dir: Path) -> Path:
    return _save(photo, media_dir / "photo.png")


@pytest.fixture(scope="session")
def photo_jpeg(photo: Image.Image, media_dir: Path) -> Path:
    return _save(photo, media_dir / "photo.jpg", quality=90)


@pytest.fixture(scope="session")
def photo_webp(photo: Image.Image, media_dir: Path) -> Path:
    return _save(photo, media_dir / "photo.webp", quality=90)


def _speech(media_dir: Path, fmt: str) -> Path:
    return synth.speak(SPEECH_TEXT, media_dir / f"speech.{fmt}", fmt=fmt)


@pytest.fixture(scope="session")
def speech_wav(media_dir: Path) -> Path:
    return _speech(media_dir, "wav")


@pytest.fixture(scope="session")
def speech_mp3(media_dir: Path) -> Path:
    return _speech(media_dir, "mp3")


@pytest.fixture(scope="session")
def speech_flac(media_dir: Path) -> Path:
    return _speech(media_dir, "flac")


@pytest.fixture(scope="session")
def speech_ogg(media_dir: Path) -> Path:
    return _speech(media_dir, "ogg")


def _video(photos: dict[str, Image.Image], wav: Path, media_dir: Path, container: str) -> Path:
    frames = [photos[name] for name in VIDEO_PHOTOS]
    path = media_dir / f"video.{container}"
    return synth.make_video(frames, path, seconds=VIDEO_SECONDS, fps=4, audio_wav=wav, container=container)


@pytest.fixture(scope="session")
def video_mp4(photos: dict[str, Image.Image], speech_wav: Path, media_dir: Path) -> Path:
    return _video(photos, speech_wav, media_dir, "mp4")


@pytest.fixture(scope="session")
def video_mov(photos: dict[str, Image.Image], speech_wav: Path, media_dir: Path) -> Path:
    return _video(photos, speech_wav, media_dir, "mov")


@pytest.fixture(scope="session")
def video_webm(photos: dict[str, Image.Image], speech_wav: Path, media_dir: Path) -> Path:
    return _video(photos, speech_wav, media_dir, "webm")


@pytest.fixture(scope="session")
def video_silent_mp4(photo: Image.Image, media_dir: Path) -> Path:
    return synth.make_video(photo, media_dir / "silent.mp4", seconds=2.0, fps=4)


@pytest.fixture(scope="session")
def pdf_paragraphs() -> list[str]:
    """The text of the pages of ``text_pdf`` and ``scanned_pdf``, one paragraph per page."""
    return list(PDF_PARAGRAPHS)


@pytest.fixture(scope="session")
def text_pdf(media_dir: Path) -> Path:
    return synth.make_pdf(PDF_PARAGRAPHS, media_dir / "text.pdf")


@pytest.fixture(scope="session")
def scanned_pdf(media_dir: Path) -> Path:
    return synth.make_pdf(PDF_PARAGRAPHS, media_dir / "scanned.pdf", scanned=True)
