"""Fixtures of the index tests: a real mixed corpus, built once, indexed once per backend.

The corpus is made with ``omnivec.evaluation.synth`` (espeak-ng speech, rendered text, fpdf2
PDFs, PyAV videos, scikit-image photos); every test file reads the same index per backend.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omnivec import Embedder
from omnivec.evaluation import synth
from omnivec.index import Index, IngestReport

# Sentences each file is about; the tests search for them.
TRAIN = "The train to Boston leaves from platform nine at noon."
ORCHIDS = "Please remember to water the orchids every Sunday morning."
SUBMARINE = "The submarine surfaced near the harbor after midnight."
ASTRONAUT = "The astronaut floated slowly outside the space station."
INVOICE = "The invoice total is four hundred dollars, due in March."
GARDEN = "# Gardening\n\nTomatoes need full sun and regular watering in summer.\n"
LIGHTHOUSE = [
    "The old lighthouse keeper polished the giant lens every evening before the storm.",
    "He climbed the spiral stairs of the lighthouse with a lantern and a can of oil.",
    "Ships at sea watched for the beam of the lighthouse sweeping across the waves.",
    "The keeper wrote the weather and every passing ship in his logbook.",
]
PDF_PAGES = [
    "Photosynthesis converts sunlight into chemical energy inside plant leaves.",
    "The French revolution began in 1789 with the storming of the Bastille.",
    "Volcanoes erupt when molten magma rises through the crust to the surface.",
    "The stock market closed higher on Friday after strong earnings reports.",
    "Emperor penguins huddle together to survive the Antarctic winter.",
    "The recipe calls for two eggs, a cup of flour and a pinch of salt.",
    "Jupiter is the largest planet in the solar system, a gas giant with a great red spot.",
    "Honey bees pollinate flowers and store nectar as honey in wax combs.",
    "The peace treaty was signed in Geneva by both delegations.",
]
LONG_AUDIO_SECONDS = 100.0
LONG_VIDEO_SECONDS = 100.0


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as f:
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2"), f.getframerate()


def compose_speech(folder: Path, path: Path, seconds: float, lines: list[tuple[float, str]]) -> Path:
    """A WAV of ``seconds`` of silence with each (start time, sentence) spoken at its time."""
    spoken = [
        (_read_wav(synth.speak(text, folder / f"line{i}.wav")), at) for i, (at, text) in enumerate(lines)
    ]
    rate = spoken[0][0][1]
    samples = np.zeros(round(seconds * rate), dtype="<i2")
    for (clip, _), at in spoken:
        start = round(at * rate)
        samples[start : start + len(clip)] = clip[: len(samples) - start]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def long_text() -> str:
    """About 1,500 word pieces: printer maintenance, a lighthouse story, then printers again."""
    printers = [
        f"Step {i} of the office printer maintenance: clean the rollers and refill tray {i % 4}."
        for i in range(48)
    ]
    return "\n\n".join([*printers[:24], " ".join(LIGHTHOUSE), *printers[24:]])


@pytest.fixture(scope="session")
def lite() -> Embedder:
    return Embedder("lite")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Image.Image]) -> Path:
    """Every modality, a 9-page PDF, a 100 s audio and a 100 s video (both over the limits)."""
    folder = tmp_path_factory.mktemp("corpus")
    work = tmp_path_factory.mktemp("corpus-work")
    photos["chelsea"].save(folder / "cat.jpg", quality=90)
    photos["rocket"].save(folder / "rocket.png")
    synth.render_text_image(INVOICE).save(folder / "invoice.png")
    synth.speak(TRAIN, folder / "train.wav")
    (folder / "notes").mkdir()
    (folder / "notes" / "garden.md").write_text(GARDEN)
    (folder / "notes" / "manual.txt").write_text(long_text())
    synth.make_pdf([f"Page {i + 1}. {p}" for i, p in enumerate(PDF_PAGES)], folder / "atlas.pdf")
    compose_speech(work, folder / "voicemail.wav", LONG_AUDIO_SECONDS, [(5.0, ORCHIDS), (85.0, SUBMARINE)])
    astronaut = synth.speak(ASTRONAUT, work / "astronaut.wav")
    synth.make_video(photos["astronaut"], folder / "space.mp4", seconds=6.0, fps=4, audio_wav=astronaut)
    track = compose_speech(work, work / "track.wav", LONG_VIDEO_SECONDS, [(80.0, SUBMARINE)])
    synth.make_video(
        [photos["coffee"], photos["horse"]],
        folder / "long.mp4",
        seconds=LONG_VIDEO_SECONDS,
        fps=1,
        audio_wav=track,
    )
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    (folder / ".hidden.txt").write_text("hidden files are not indexed")
    (folder / "ignored.csv").write_text("a,b\n1,2\n")
    return folder


@pytest.fixture(scope="session", params=["lancedb", "milvus"])
def built(
    request: pytest.FixtureRequest, corpus: Path, lite: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Index, IngestReport]]:
    """The corpus indexed once per backend (read-only for the tests that use it)."""
    folder = tmp_path_factory.mktemp(f"index-{request.param}")
    index = Index.open(folder, lite, backend=request.param)
    report = index.add([corpus])
    yield index, report
    index.close()
