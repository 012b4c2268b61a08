"""The demo index behind ``omnivec serve --demo``: sample media generated on this machine, indexed once.

:func:`write_demo_media` writes photos (scikit-image samples), spoken sentences (espeak-ng),
PDFs (one scanned), narrated slideshow videos and Markdown notes into a folder, each file only
if it is missing, so later runs leave the files (and their hashes) alone; :func:`build_demo`
then indexes the folder, which skips every unchanged file. Nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from omnivec.embedder import Embedder
from omnivec.errors import MissingDependency, ModelMismatch
from omnivec.index.index import Index
from omnivec.index.ingest import IngestProgress, IngestReport

logger = logging.getLogger(__name__)

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "horse", "coins")
SENTENCES = {
    "train-times": "The last train to Boston leaves platform four at eleven fifteen tonight.",
    "recipe": "Whisk two eggs with a cup of milk, then fold in the flour slowly.",
    "weather": "Tomorrow will be windy along the coast, with heavy rain after midday.",
    "meeting": "The quarterly budget review has moved to Thursday at three in the afternoon.",
    "garden": "Water the tomato plants every morning and pick the ripe ones on Sunday.",
    "astronomy": "Saturn's rings are made of ice and rock, and they are surprisingly thin.",
}
PDFS = {
    "travel-guide": ["Lisbon is built on seven hills above the Tagus river.",
                     "The yellow tram number 28 climbs through the old Alfama district.",
                     "Pastel de nata, a custard tart, is best eaten warm with cinnamon."],
    "coffee-handbook": ["Espresso is brewed by forcing hot water through finely ground coffee.",
                        "A flat white has less milk foam than a cappuccino."],
    "scanned-invoice": ["Invoice 2024-117 for bicycle repairs: new brake pads and a chain.",
                        "Total due within thirty days: one hundred and twenty euros."],
}  # fmt: skip
SCANNED = {"scanned-invoice"}
VIDEOS = {  # name -> (photos shown, narration)
    "space-launch": (("rocket", "astronaut"), "A rocket lifts off and an astronaut floats in orbit."),
    "morning-coffee": (("coffee", "chelsea"), "A cup of coffee on the table while the cat wakes up."),
}
NOTES = {
    "volcanoes.md": "# Volcanoes\n\nVolcanoes erupt when molten magma rises through the crust to the surface.\n",
    "packing-list.md": "# Packing list\n\n- passport\n- rain jacket\n- phone charger\n- hiking boots\n",
}


def _cache_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "omnivec"


def default_media_dir() -> Path:
    return _cache_home() / "demo-media"


def default_index_dir() -> Path:
    return _cache_home() / "demo-index"


def write_demo_media(folder: Path) -> list[Path]:
    """Write the sample files into ``folder`` (those missing only) and return every demo file.

    Raises:
        MissingDependency: scikit-image is not installed (it ships the sample photos).
        RuntimeError: espeak-ng or ffmpeg is missing (see ``scripts/ensure-apt.sh``).
    """
    from omnivec.evaluation import synth

    try:
        photos = dict(synth.skimage_photos())
    except ModuleNotFoundError as exc:
        raise MissingDependency("the demo's photos come from scikit-image: pip install scikit-image") from exc
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def want(name: str) -> Path | None:
        path = folder / name
        written.append(path)
        return None if path.exists() else path

    for name in PHOTOS:
        if name in photos and (path := want(f"{name}.jpg")):
            photos[name].save(path, quality=90)
    for name, sentence in SENTENCES.items():
        if path := want(f"{name}.wav"):
            synth.speak(sentence, path)
    for name, paragraphs in PDFS.items():
        if path := want(f"{name}.pdf"):
            synth.make_pdf(paragraphs, path, scanned=name in SCANNED)
    for name, (shown, narration) in VIDEOS.items():
        if path := want(f"{name}.mp4"):
            wav = synth.speak(narration, folder / f".{name}-narration.wav")  # hidden: not indexed
            frames = [photos[p] for p in shown if p in photos]
            synth.make_video(frames, path, seconds=6.0, fps=4, audio_wav=wav)
    for name, text in NOTES.items():
        if path := want(name):
            path.write_text(text, encoding="utf-8")
    return written


def build_demo(
    embedder: Embedder,
    media_dir: Path | None = None,
    index_dir: Path | None = None,
    progress: Callable[[IngestProgress], None] | None = None,
) -> tuple[Path, IngestReport]:
    """Generate the demo media if missing and index them (unchanged files are skipped).

    Returns:
        The index folder and the ingest report.
    """
    media_dir = media_dir or default_media_dir()
    index_dir = index_dir or default_index_dir()
    write_demo_media(media_dir)
    return index_dir, index_generated(embedder, media_dir, index_dir, progress)


def index_generated(
    embedder: Embedder,
    media_dir: Path,
    index_dir: Path,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Index ``media_dir`` into ``index_dir``, an index omnivec generated and may throw away.

    A user's index refuses vectors of another model version (ModelMismatch); this one is rebuilt
    instead, so ``make serve`` keeps working after an upgrade or a runtime change.
    """
    try:
        with Index.open(index_dir, embedder) as index:
            return index.add([media_dir], progress=progress)
    except ModelMismatch as exc:
        logger.warning("rebuilding the generated index %s: %s", index_dir, exc)
        shutil.rmtree(index_dir)
    with Index.open(index_dir, embedder) as index:
        return index.add([media_dir], progress=progress)
