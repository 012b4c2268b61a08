"""The cross-modal retrieval suite: turns the texts in :mod:`omnivec.evaluation.corpus` into real
media (photos, espeak-ng speech as WAV and MP3, PDFs with a text layer and as scans, rendered
text images, narrated MP4 slideshows) under ``cache_dir/suite-v<SUITE_VERSION>`` and describes
each retrieval task as query items, document items and the index of each query's relevant
document. Generation is deterministic and each file is written once (atomically, via a partial
file) and reused afterwards; bump ``SUITE_VERSION`` whenever the corpus or the recipe changes.
"""

from __future__ import annotations

import logging
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from PIL import Image

from omnivec.content import Modality
from omnivec.evaluation import synth
from omnivec.evaluation.corpus import CAPTIONS, PASSAGES, SENTENCES, VIDEO_SCRIPTS

logger = logging.getLogger(__name__)

SUITE_VERSION = "1"

# Task names, "<query> -> <document>"; the runner's targets refer to them.
CAPTIONS_TO_PHOTOS = "captions->photos"
PHOTOS_TO_CAPTIONS = "photos->captions"
TEXT_TO_WAV = "text->speech.wav"
TEXT_TO_MP3 = "text->speech.mp3"
QUESTION_TO_PDF = "question->pdf"
QUESTION_TO_SCAN = "question->scanned-pdf"
PARAGRAPH_TO_PDF = "paragraph->pdf"
PARAGRAPH_TO_SCAN = "paragraph->scanned-pdf"
TEXT_TO_TEXT_IMAGE = "text->text-image"
SENTENCE_TO_VIDEO = "sentence->video"
PARAPHRASE_TO_VIDEO = "paraphrase->video"
TERM_TO_DEFINITION = "term->definition"

VOICES = ("en-us", "en-gb")
SPEEDS = (150, 160, 175, 165, 155, 170)  # words per minute
TEXT_IMAGE_COUNT = 30  # sentences rendered as images
TEXT_IMAGE_FONT_SIZES = (28, 32, 36)  # pixels
VIDEO_SECONDS = (3.0, 6.0)  # shortest and longest clip
VIDEO_FRAME_SIDE = 640  # photos are shrunk to fit this many pixels per side

Item = str | Path  # one input to Embedder.embed: text, or a file to read
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Task:
    """One retrieval task: ``queries[i]`` should retrieve ``docs[relevant[i]]`` among all docs."""

    name: str
    query_modality: Modality
    doc_modality: Modality
    queries: tuple[Item, ...]
    docs: tuple[Item, ...]
    relevant: tuple[int, ...]
    query_labels: tuple[str, ...]  # human-readable, for failure reports
    doc_labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Suite:
    """All tasks, with the folder holding their media."""

    root: Path
    version: str
    tasks: tuple[Task, ...]

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task {name!r}; the suite has {', '.join(t.name for t in self.tasks)}")


def build_suite(cache_dir: Path, limit: int | None = None) -> Suite:
    """Generate (or reuse) the suite's media under ``cache_dir`` and describe its tasks.

    Args:
        cache_dir: parent folder; media go to ``cache_dir/suite-v<SUITE_VERSION>``.
        limit: keep only the first ``limit`` items of each task (for fast tests); the files are
            the same as in the full suite, so a limited build is a subset of a full one.

    Returns:
        The suite; every path in it exists.

    Raises:
        RuntimeError: espeak-ng or ffmpeg is missing or fails.
        ValueError: a video narration is longer than the longest clip (a corpus error).
    """
    root = cache_dir / f"suite-v{SUITE_VERSION}"
    images = _available_photos()
    tasks = (
        *_photo_tasks(_save_photos(root / "photos", images, limit)),
        *_speech_tasks(root / "speech", _head(SENTENCES, limit)),
        *_pdf_tasks(root / "pdf", limit),
        _text_image_task(root / "text-image", _head(SENTENCES[:TEXT_IMAGE_COUNT], limit)),
        *_video_tasks(root / "video", images, limit),
        _definition_task(limit),
    )
    return Suite(root=root, version=SUITE_VERSION, tasks=tasks)


def _head(items: Sequence[T], limit: int | None) -> list[T]:
    return list(items if limit is None else items[:limit])


def _ensure(path: Path, write: Callable[[Path], object]) -> Path:
    """Create ``path`` with ``write`` unless it exists, via a partial file so a crash leaves none torn."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".partial-{path.name}")  # keeps the suffix: ffmpeg picks formats by it
    write(partial)
    partial.replace(path)
    return path


def _available_photos() -> dict[str, Image.Image]:
    photos = dict(synth.skimage_photos())
    if missing := [name for name in CAPTIONS if name not in photos]:
        logger.info("scikit-image lacks %s offline; the photo tasks skip them", ", ".join(missing))
    return photos


def _save_photos(folder: Path, images: dict[str, Image.Image], limit: int | None) -> dict[str, Path]:
    """Caption-ordered photo name -> PNG, for every captioned photo scikit-image ships."""
    names = _head([name for name in CAPTIONS if name in images], limit)
    return {name: _ensure(folder / f"{name}.png", images[name].save) for name in names}


def _photo_tasks(photos: dict[str, Path]) -> tuple[Task, Task]:
    names = tuple(photos)
    captions = tuple(CAPTIONS[name] for name in names)
    paths = tuple(photos.values())
    order = tuple(range(len(names)))
    return (
        Task(CAPTIONS_TO_PHOTOS, "text", "image", captions, paths, order, captions, names),
        Task(PHOTOS_TO_CAPTIONS, "image", "text", paths, captions, order, names, captions),
    )


def _voice(index: int) -> tuple[str, int]:
    """Alternate accents and cycle speeds independently, so neither tracks the other."""
    return VOICES[index % len(VOICES)], SPEEDS[(index // len(VOICES)) % len(SPEEDS)]


def _speech_tasks(folder: Path, sentences: list[str]) -> tuple[Task, Task]:
    texts = tuple(sentences)
    tasks = []
    for fmt, name in (("wav", TEXT_TO_WAV), ("mp3", TEXT_TO_MP3)):
        docs, labels = [], []
        for i, text in enumerate(texts):
            voice, speed = _voice(i)
            path = folder / f"s{i:02d}-{voice}-{speed}.{fmt}"
            docs.append(_ensure(path, partial(synth.speak, text, fmt=fmt, voice=voice, speed=speed)))
            labels.append(f"[{voice} {speed} wpm] {text}")
        order = tuple(range(len(texts)))
        tasks.append(Task(name, "text", "audio", texts, tuple(docs), order, texts, tuple(labels)))
    return tasks[0], tasks[1]


def _pdf_tasks(folder: Path, limit: int | None) -> tuple[Task, ...]:
    passages = _head(PASSAGES, limit)
    text_pdfs, scans = [], []
    for i, passage in enumerate(passages):
        paragraphs = [passage.text]
        text_pdfs.append(_ensure(folder / f"p{i:02d}.pdf", partial(synth.make_pdf, paragraphs)))
        scans.append(
            _ensure(folder / f"p{i:02d}-scan.pdf", partial(synth.make_pdf, paragraphs, scanned=True))
        )
    questions = tuple(p.question for p in passages)
    texts = tuple(p.text for p in passages)
    topics = tuple(p.topic for p in passages)
    order = tuple(range(len(passages)))
    return (
        Task(QUESTION_TO_PDF, "text", "pdf", questions, tuple(text_pdfs), order, questions, topics),
        Task(QUESTION_TO_SCAN, "text", "pdf", questions, tuple(scans), order, questions, topics),
        Task(PARAGRAPH_TO_PDF, "text", "pdf", texts, tuple(text_pdfs), order, topics, topics),
        Task(PARAGRAPH_TO_SCAN, "text", "pdf", texts, tuple(scans), order, topics, topics),
    )


def _render_text_image(text: str, font_size: int, path: Path) -> None:
    synth.render_text_image(text, font_size=font_size).save(path, format="PNG")


def _text_image_task(folder: Path, sentences: list[str]) -> Task:
    images = []
    for i, text in enumerate(sentences):
        size = TEXT_IMAGE_FONT_SIZES[i % len(TEXT_IMAGE_FONT_SIZES)]
        images.append(_ensure(folder / f"t{i:02d}.png", partial(_render_text_image, text, size)))
    texts = tuple(sentences)
    order = tuple(range(len(texts)))
    return Task(TEXT_TO_TEXT_IMAGE, "text", "image", texts, tuple(images), order, texts, texts)


def wav_seconds(path: Path) -> float:
    """Duration of a PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _clip_seconds(speech: Path) -> float:
    """The speech plus a short tail, within VIDEO_SECONDS; speech longer than a clip is an error."""
    spoken = wav_seconds(speech)
    shortest, longest = VIDEO_SECONDS
    if spoken > longest:
        raise ValueError(f"narration {speech.name} lasts {spoken:.1f} s; shorten it to fit {longest:.0f} s")
    return round(min(longest, max(shortest, spoken + 0.4)), 1)


def _narrated_video(photo: Image.Image, speech: Path, path: Path) -> None:
    frame = photo.copy()
    frame.thumbnail((VIDEO_FRAME_SIDE, VIDEO_FRAME_SIDE))
    synth.make_video(frame, path, seconds=_clip_seconds(speech), audio_wav=speech)


def _video_tasks(folder: Path, images: dict[str, Image.Image], limit: int | None) -> tuple[Task, Task]:
    scripts = _head([s for s in VIDEO_SCRIPTS if s.photo in images], limit)
    videos = []
    for script in scripts:
        speech = _ensure(folder / f"{script.photo}.wav", partial(synth.speak, script.line))
        video = partial(_narrated_video, images[script.photo], speech)
        videos.append(_ensure(folder / f"{script.photo}.mp4", video))
    lines = tuple(s.line for s in scripts)
    paraphrases = tuple(s.paraphrase for s in scripts)
    labels = tuple(f"{s.photo}: {s.line}" for s in scripts)
    order = tuple(range(len(scripts)))
    return (
        Task(SENTENCE_TO_VIDEO, "text", "video", lines, tuple(videos), order, lines, labels),
        Task(PARAPHRASE_TO_VIDEO, "text", "video", paraphrases, tuple(videos), order, paraphrases, labels),
    )


def _definition_task(limit: int | None) -> Task:
    """Text to text over 1,000 WordNet definitions: hard enough to show what Matryoshka widths cost.

    The ImageNet-1k synsets' definitions (shipped in omnivec.data; disjoint from the corpus the
    lite rotation is fitted on); a query is the synset's first lemma.
    """
    from omnivec.models.tables import imagenet_classes

    rows = _head(imagenet_classes(), limit)
    terms = tuple(lemmas[0] for _, lemmas, _ in rows)
    definitions = tuple(definition for _, _, definition in rows)
    return Task(
        name=TERM_TO_DEFINITION, query_modality="text", doc_modality="text", queries=terms,
        docs=definitions, relevant=tuple(range(len(rows))), query_labels=terms,
        doc_labels=tuple(d[:60] for d in definitions),
    )
