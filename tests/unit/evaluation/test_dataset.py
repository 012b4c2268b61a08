from __future__ import annotations

import wave
from pathlib import Path

import av
import pypdfium2 as pdfium
import pytest
from PIL import Image

from omnivec.evaluation import dataset, synth
from omnivec.evaluation.corpus import CAPTIONS, PASSAGES, SENTENCES, VIDEO_SCRIPTS
from omnivec.evaluation.dataset import Suite, build_suite

LIMIT = 2


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Suite:
    return build_suite(tmp_path_factory.mktemp("eval"), limit=LIMIT)


def _files(suite: Suite, suffix: str) -> list[Path]:
    items = {item for task in suite.tasks for item in (*task.queries, *task.docs)}
    return sorted(item for item in items if isinstance(item, Path) and item.suffix == suffix)


def _pdf_words(path: str | Path) -> list[str]:
    with pdfium.PdfDocument(path) as pdf:
        assert len(pdf) == 1
        return str(pdf[0].get_textpage().get_text_range()).split()


def test_corpus_is_big_enough_and_distinct() -> None:
    assert len(set(SENTENCES)) == len(SENTENCES) >= 60
    assert all(8 <= len(s.split()) <= 20 for s in SENTENCES)
    assert len({p.text for p in PASSAGES}) == len({p.question for p in PASSAGES}) == len(PASSAGES) >= 30
    assert all(60 <= len(p.text.split()) <= 120 for p in PASSAGES)
    assert all(p.question.lower() not in p.text.lower() for p in PASSAGES)
    assert len(VIDEO_SCRIPTS) >= 10
    assert {s.photo for s in VIDEO_SCRIPTS} <= set(CAPTIONS) <= set(synth.SKIMAGE_SAMPLES)


def test_every_task_is_limited_and_aligned(suite: Suite) -> None:
    names = [task.name for task in suite.tasks]
    assert len(set(names)) == len(names) == 12
    for task in suite.tasks:
        assert len(task.queries) == len(task.docs) == len(task.relevant) == LIMIT, task.name
        assert len(task.query_labels) == len(task.queries) and len(task.doc_labels) == len(task.docs)
        assert all(0 <= r < len(task.docs) for r in task.relevant)
    assert suite.task(dataset.TEXT_TO_WAV).queries == tuple(SENTENCES[:LIMIT])
    with pytest.raises(KeyError, match="captions->photos"):
        suite.task("nope")


def test_items_are_text_or_existing_files_under_the_root(suite: Suite) -> None:
    for task in suite.tasks:
        for item in (*task.queries, *task.docs):
            if isinstance(item, Path):
                assert item.is_file() and item.is_relative_to(suite.root), item
            else:
                assert item.strip()
    assert not list(suite.root.rglob(".partial-*"))


def test_images_decode(suite: Suite) -> None:
    pngs = _files(suite, ".png")
    assert len(pngs) == 2 * LIMIT  # photos + text images
    for path in pngs:
        with Image.open(path) as image:
            assert image.mode == "RGB" and min(image.size) > 32


def test_speech_decodes_in_both_formats(suite: Suite) -> None:
    for path in suite.task(dataset.TEXT_TO_WAV).docs:
        assert isinstance(path, Path)
        with wave.open(str(path), "rb") as wav:
            assert wav.getnframes() / wav.getframerate() > 1.0
    for path in suite.task(dataset.TEXT_TO_MP3).docs:
        with av.open(str(path)) as container:
            assert container.format.name == "mp3"
            assert sum(frame.samples for frame in container.decode(audio=0)) > 22050


def test_pdfs_have_text_or_only_images(suite: Suite) -> None:
    tasks = suite.task(dataset.PARAGRAPH_TO_PDF), suite.task(dataset.PARAGRAPH_TO_SCAN)
    for paragraph, text_pdf, scan in zip(tasks[0].queries, tasks[0].docs, tasks[1].docs, strict=True):
        assert isinstance(paragraph, str)
        assert _pdf_words(text_pdf) == paragraph.split()
        assert _pdf_words(scan) == []
        with pdfium.PdfDocument(scan) as scanned:
            assert len(scanned) == 1


def test_videos_have_picture_and_narration(suite: Suite) -> None:
    for path in suite.task(dataset.SENTENCE_TO_VIDEO).docs:
        with av.open(str(path)) as container:
            assert container.duration is not None
            assert 3.0 <= container.duration / av.time_base <= 6.1
            assert container.streams.video and container.streams.audio


def test_rebuild_reuses_files(suite: Suite) -> None:
    before = {p: p.stat().st_mtime_ns for p in suite.root.rglob("*") if p.is_file()}
    again = build_suite(suite.root.parent, limit=LIMIT)
    assert again == suite
    assert {p: p.stat().st_mtime_ns for p in suite.root.rglob("*") if p.is_file()} == before


def test_every_narration_fits_a_clip(tmp_path: Path) -> None:
    for script in VIDEO_SCRIPTS:
        speech = synth.speak(script.line, tmp_path / f"{script.photo}.wav")
        assert dataset.wav_seconds(speech) <= dataset.VIDEO_SECONDS[1], script.line
