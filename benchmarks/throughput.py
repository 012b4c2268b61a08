"""Throughput of the lite model, side by side with the plain-library peers, in one run.

Text: omnivec vs sentence-transformers on the same all-MiniLM-L6-v2 weights (batch 32, the
same 200 mixed-length sentences, vectors compared by cosine). Media: images/s, audio seconds
per second, video seconds per second and PDF pages per second through the full lite pipeline,
and peak resident memory. Timings on shared 2-core machines are noisy: read the ratios.

    .venv/bin/python benchmarks/throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from omnivec import Embedder, Part
from omnivec.config import Settings
from omnivec.evaluation import synth

WORDS = (
    "river mountain engine budget violin harbor protein senate glacier orbit lantern courier "
    "algorithm festival vaccine copper meadow tariff satellite novel bakery volcano ledger"
).split()


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.choice((4, 8, 16, 32, 64)))) + "." for _ in range(n)]


def timed(fn: Callable[[], object], repeats: int = 3) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def text_rows(embedder: Embedder, n: int) -> list[tuple[str, str, str]]:
    from sentence_transformers import SentenceTransformer

    from omnivec.encoders.minilm import default_weights

    texts = sentences(n)
    st = SentenceTransformer(str(default_weights()), device="cpu")
    st_seconds = timed(lambda: st.encode(texts, batch_size=32, normalize_embeddings=True))
    ov_seconds = timed(lambda: embedder.embed(texts, batch_size=len(texts), rotate=False))
    cosine = float(np.min(np.sum(
        st.encode(texts, batch_size=32, normalize_embeddings=True) * embedder.embed(texts, rotate=False).vectors, axis=1
    )))
    query = ["how do glaciers move"]
    st_q = statistics.median(_latencies(lambda: st.encode(query, normalize_embeddings=True)))
    ov_q = statistics.median(_latencies(lambda: embedder.embed(query)))
    return [
        ("text sentences/s, batch 32", f"{n / st_seconds:.0f}", f"{n / ov_seconds:.0f} ({st_seconds / ov_seconds:.2f}x); min cosine {cosine:.5f}"),
        ("single short query p50 ms", f"{st_q * 1000:.1f}", f"{ov_q * 1000:.1f} ({st_q / ov_q:.2f}x)"),
    ]


def _latencies(fn: Callable[[], object], n: int = 30) -> list[float]:
    fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def media_rows(embedder: Embedder, folder: Path, quick: bool) -> list[tuple[str, str, str]]:
    photos = [img for _, img in synth.skimage_photos()][: 6 if quick else 12]
    image_parts = [Part.from_path(_save(img, folder / f"p{i}.png")) for i, img in enumerate(photos)]
    classify = embedder.model.vision  # type: ignore[attr-defined]
    ocr = embedder.model.ocr  # type: ignore[attr-defined]
    plain = timed(lambda: [ocr.read(img) for img in photos] and classify.classify(photos), repeats=1)
    ours = timed(lambda: embedder.embed(image_parts), repeats=1)

    wav = synth.speak("The committee approved the new budget for the city library after a long debate. " * 3, folder / "s.wav")
    audio_seconds = _seconds(embedder, Part.from_path(wav))
    audio = timed(lambda: embedder.embed([Part.from_path(wav)]), repeats=1)

    video = synth.make_video(photos[:2], folder / "v.mp4", seconds=audio_seconds, audio_wav=wav)
    video_time = timed(lambda: embedder.embed([Part.from_path(video)]), repeats=1)

    paragraphs = [" ".join(sentences(6, seed=i)) for i in range(6)]
    pdf = synth.make_pdf(paragraphs, folder / "t.pdf")
    scan = synth.make_pdf(paragraphs, folder / "s.pdf", scanned=True)
    pdf_time = timed(lambda: embedder.embed([Part.from_path(pdf)]), repeats=1)
    scan_time = timed(lambda: embedder.embed([Part.from_path(scan)]), repeats=1)
    return [
        ("images/s (classifier + OCR)", f"{len(photos) / plain:.2f} (plain torch + RapidOCR)", f"{len(photos) / ours:.2f} ({plain / ours:.2f}x)"),
        ("audio seconds per second", "-", f"{audio_seconds / audio:.1f}x real time"),
        ("video seconds per second", "-", f"{audio_seconds / video_time:.1f}x real time (with audio)"),
        ("PDF pages/s, text layer", "-", f"{len(paragraphs) / pdf_time:.2f}"),
        ("PDF pages/s, scanned (OCR)", "-", f"{len(paragraphs) / scan_time:.2f}"),
    ]


def _save(image: object, path: Path) -> Path:
    image.save(path)  # type: ignore[attr-defined]
    return path


def _seconds(embedder: Embedder, part: Part) -> float:
    return float(embedder.embed([part]).metadata[0]["parts"][0]["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer items, for a smoke run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        embedder = Embedder("lite", settings=Settings.from_env().with_roots(folder))
        embedder.model.build()  # type: ignore[attr-defined]
        rows = text_rows(embedder, 64 if args.quick else 200)
        rows += media_rows(embedder, folder, args.quick)
    print("| measure | peer | omnivec lite |\n|---|---|---|")
    for name, peer, ours in rows:
        print(f"| {name} | {peer} | {ours} |")
    print(f"\npeak RSS of this process (both models loaded): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
