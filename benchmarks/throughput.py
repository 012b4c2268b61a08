"""Throughput of the lite model, side by side with the plain-library peers, in one run.

Text (all-MiniLM-L6-v2 weights everywhere, the same mixed-length sentences, batch 32):
sentence-transformers, infinity-emb (torch engine, from ``.venv-peers``; build it with
``bash benchmarks/peers/setup_infinity.sh``), omnivec on torch, ONNX fp32 and ONNX int8.
Per engine: sentences/s and word pieces/s, that rate as a fraction of this machine's fp32
GEMM ceiling (torch matmul GFLOP/s measured in the same run; ~21.7 MFLOP per token for
MiniLM), cosine to the torch reference, single short query p50/p99, and, from a fresh
process, cold start (import to first vector) and peak RSS. The engines' timed passes are
interleaved round by round, so a change in the machine's load hits them all alike.

Media: images/s, on photos and on images of rendered text (lite on each vision runtime vs the
plain path a user would write: the EfficientNet-Lite0 torch model, one forward per image, and
``RapidOCR()(image)`` with its defaults; interleaved round by round), audio seconds/s (lite vs
plain faster-whisper), PDF pages/s (lite vs pypdfium2 + MiniLM), video seconds/s (lite vs the
plain per-frame and per-audio-second rates), and the peak RSS of a fresh process with the whole
lite model loaded. Timings on shared machines are noisy: read the ratios.

    .venv/bin/python benchmarks/throughput.py [--quick] [--rounds 5] [--only text|media]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omnivec import Embedder, Part
from omnivec.config import Settings
from omnivec.evaluation import synth

WORDS = (
    "river mountain engine budget violin harbor protein senate glacier orbit lantern courier "
    "algorithm festival vaccine copper meadow tariff satellite novel bakery volcano ledger"
).split()
MFLOP_PER_TOKEN = 21.7  # MiniLM-L6: 2 x 22.7 M weights per token, less embeddings, plus attention
QUERY = "how do glaciers move"
ROOT = Path(__file__).resolve().parent.parent
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.choice((4, 8, 16, 32, 64)))) + "." for _ in range(n)]


def gemm_gflops(size: int = 1024, repeats: int = 20) -> float:
    """This machine's fp32 matmul rate through torch (all cores), best of a few tries."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def latencies(fn: Callable[[], object], n: int = 40) -> list[float]:
    fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


@dataclass(slots=True)
class Engine:
    name: str
    encode: Callable[[list[str]], np.ndarray]  # texts -> (N, 384) unit vectors
    passes: list[float] = field(default_factory=list)
    single: list[float] = field(default_factory=list)
    cold: dict[str, float] = field(default_factory=dict)
    vectors: np.ndarray | None = None


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


def fresh_process(code: str) -> dict[str, float]:
    """Run ``code`` in a new interpreter; it prints a JSON dict. Adds the wall time to its exit."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", inspect.getsource(peak_rss_mb) + code], capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    return result


COLD_OMNIVEC = """
import json, resource, sys, time
t = time.perf_counter()
from omnivec import Embedder
from omnivec.config import Settings
e = Embedder("lite", settings=Settings(runtime={runtime!r}))
e.embed(["hello"], rotate=False)
cold = time.perf_counter() - t
e.embed({texts!r}, rotate=False)
print(json.dumps({{"cold_start_s": cold, "peak_rss_mb": peak_rss_mb()}}))
"""
COLD_ST = """
import json, resource, time
t = time.perf_counter()
from sentence_transformers import SentenceTransformer
m = SentenceTransformer({path!r}, device="cpu")
m.encode(["hello"])
cold = time.perf_counter() - t
m.encode({texts!r}, batch_size=32)
print(json.dumps({{"cold_start_s": cold, "peak_rss_mb": peak_rss_mb()}}))
"""


def infinity_report(texts: list[str], model: Path, folder: Path) -> tuple[dict[str, object] | None, str]:
    """infinity-emb's figures from its own venv, or why there are none."""
    if not PEERS_PYTHON.exists():
        return None, "not installed here: run `bash benchmarks/peers/setup_infinity.sh`"
    (folder / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    out = folder / "infinity.json"
    run = subprocess.run(
        [str(PEERS_PYTHON), str(ROOT / "benchmarks" / "peers" / "infinity_bench.py"), str(model),
         str(folder / "texts.json"), str(out)],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"},
    )  # fmt: skip
    if run.returncode != 0:
        return None, "failed: " + run.stderr.strip().splitlines()[-1][:200]
    report: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    report["vectors"] = np.load(str(out) + ".npy")
    return report, ""


def text_section(n: int, rounds: int, folder: Path) -> list[str]:
    from sentence_transformers import SentenceTransformer

    from omnivec.encoders.minilm import default_weights

    texts = sentences(n)
    model_dir = default_weights()
    st = SentenceTransformer(str(model_dir), device="cpu")
    engines = [Engine("sentence-transformers", lambda t: st.encode(t, batch_size=32, normalize_embeddings=True))]
    for runtime in ("torch", "onnx-fp32", "onnx-int8"):
        embedder = Embedder("lite", settings=_with(Settings.from_env(), runtime=runtime))
        engines.append(Engine(f"omnivec {runtime}", lambda t, e=embedder: e.embed(t, rotate=False, batch_size=32).vectors))
    tokens = sum(len(ids) for ids in st.tokenizer(texts, truncation=True, max_length=256)["input_ids"])

    ceiling = [gemm_gflops()]
    for engine in engines:
        engine.encode(texts)  # warm-up
    for _ in range(rounds):  # interleaved: each round times every engine once
        for engine in engines:
            start = time.perf_counter()
            engine.vectors = np.asarray(engine.encode(texts))
            engine.passes.append(time.perf_counter() - start)
    ceiling.append(gemm_gflops())
    for engine in engines:
        engine.single = latencies(lambda e=engine: e.encode([QUERY]))
    infinity, why_not = infinity_report(texts, model_dir, folder)
    reference = engines[1].vectors
    assert reference is not None

    for engine in engines[1:]:
        runtime = engine.name.split()[-1]
        engine.cold = fresh_process(COLD_OMNIVEC.format(runtime=runtime, texts=texts))
    engines[0].cold = fresh_process(COLD_ST.format(path=str(model_dir), texts=texts))

    gflops = statistics.median(ceiling)
    base = n / statistics.median(engines[0].passes)
    lines = [
        f"fp32 GEMM ceiling (torch matmul, {os.cpu_count()} cores): {gflops:.0f} GFLOP/s "
        f"(before {ceiling[0]:.0f}, after {ceiling[1]:.0f}); {n} sentences, {tokens} word pieces, batch 32, "
        f"{rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f}",
        "",
        "| engine | sentences/s | tokens/s | x sentence-transformers | of fp32 GEMM ceiling | mean (min) cosine to omnivec torch"
        " | query p50 ms | query p99 ms | cold start s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows: list[tuple[str, float, np.ndarray, list[float], dict[str, float]]] = [
        (e.name, statistics.median(e.passes), e.vectors if e.vectors is not None else reference,
         [1e3 * s for s in e.single], e.cold)
        for e in engines
    ]  # fmt: skip
    if infinity is not None:
        vectors = infinity["vectors"]
        assert isinstance(vectors, np.ndarray)
        seconds, single = infinity["seconds"], infinity["single_ms"]
        assert isinstance(seconds, float) and isinstance(single, list)
        rows.insert(1, (f"infinity-emb {infinity['version']} (torch)", seconds, vectors, single,
                        {"cold_start_s": float(str(infinity["cold_start_s"])),
                         "peak_rss_mb": float(str(infinity["peak_rss_mb"]))}))  # fmt: skip
    for name, seconds, vectors, single, cold in rows:
        rate = n / seconds
        cos = (vectors * reference).sum(1)
        p50, p99 = np.percentile(single, [50, 99])
        lines.append(
            f"| {name} | {rate:.0f} | {tokens / seconds:.0f} | {rate / base:.2f} | "
            f"{tokens / seconds * MFLOP_PER_TOKEN / 1e3 / gflops:.2f} | {cos.mean():.5f} ({cos.min():.5f}) | "
            f"{p50:.1f} | {p99:.1f} | {cold.get('cold_start_s', float('nan')):.1f} | {cold.get('peak_rss_mb', float('nan')):.0f} |"
        )
    if infinity is None:
        lines.append(f"| infinity-emb | {why_not} | | | | | | | | |")
    return lines


def timed(fn: Callable[[], object], repeats: int = 2) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def plain_image_path() -> Callable[[list[Path]], None]:
    """What a user would write without omnivec: the EfficientNet-Lite0 torch model on the batch
    (one forward per image, no mirror averaging) and ``RapidOCR()(image)`` with its defaults."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image
    from rapidocr_onnxruntime import RapidOCR

    from omnivec.encoders.convnet import default_weights, preprocess

    net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    net.load_state_dict(torch.load(str(default_weights()), map_location="cpu", weights_only=True))
    net, ocr = net.eval(), RapidOCR()

    def run(paths: list[Path]) -> None:
        images = [Image.open(p).convert("RGB") for p in paths]
        with torch.inference_mode():
            net(torch.from_numpy(np.stack([preprocess(im) for im in images]))).softmax(-1)
        for image in images:
            ocr(np.asarray(image)[:, :, ::-1])  # RGB -> BGR, as cv2.imread gives

    return run


def image_rows(sets: dict[str, list[Path]], folder: Path, rounds: int) -> tuple[list[str], float]:
    """images/s of the plain path and of lite on each vision runtime, interleaved round by round.

    Returns the table rows and the plain path's seconds per photo (the video row reuses it).
    """
    settings = Settings.from_env().with_roots(folder)
    engines: dict[str, Callable[[list[Path]], object]] = {"plain": plain_image_path()}
    for runtime in ("torch", "onnx-fp32", "onnx-int8"):
        embedder = Embedder("lite", settings=_with(settings, vision_runtime=runtime))
        engines[runtime] = lambda ps, e=embedder: e.embed([Part.from_path(p) for p in ps])  # type: ignore[misc]
    seconds: dict[tuple[str, str], list[float]] = {}
    for paths in sets.values():
        for run in engines.values():
            run(paths)  # warm-up: sessions, graphs, tables
    load = [os.getloadavg()[0]]
    for _ in range(rounds):  # interleaved: each round times every engine once on every set
        for set_name, paths in sets.items():
            for name, run in engines.items():
                start = time.perf_counter()
                run(paths)
                seconds.setdefault((set_name, name), []).append(time.perf_counter() - start)
    load.append(os.getloadavg()[0])
    rows = [f"images: {rounds} interleaved rounds, median; load average {load[0]:.1f} before, {load[1]:.1f} after", ""]
    rows += ["| measure | plain-library baseline | omnivec lite | lite / baseline |", "|---|---:|---:|---:|"]
    for set_name, paths in sets.items():
        plain = statistics.median(seconds[(set_name, "plain")])
        for runtime in ("torch", "onnx-fp32", "onnx-int8"):
            ours = statistics.median(seconds[(set_name, runtime)])
            rows.append(
                f"| images/s, {set_name} (classifier + OCR), vision {runtime} | {len(paths) / plain:.2f} "
                f"(torch classifier + `RapidOCR()`) | {len(paths) / ours:.2f} | {plain / ours:.2f} |"
            )
    first = next(iter(sets))
    return rows, statistics.median(seconds[(first, "plain")]) / len(sets[first])


def media_section(folder: Path, quick: bool, rounds: int) -> list[str]:
    from faster_whisper import WhisperModel
    from sentence_transformers import SentenceTransformer

    from omnivec.encoders import asr, minilm

    photos = [img for _, img in synth.skimage_photos()][: 6 if quick else 12]
    paths = [_save(img, folder / f"p{i}.png") for i, img in enumerate(photos)]
    texts = [" ".join(sentences(1, seed=i)[0].split()[:14]) for i in range(4 if quick else 8)]
    text_paths = [_save(synth.render_text_image(t, font_size=(24, 32)[i % 2]), folder / f"t{i}.png")
                  for i, t in enumerate(texts)]  # fmt: skip
    sets = {f"{len(paths)} photos": paths, f"{len(text_paths)} images of rendered text": text_paths}
    image_lines, plain_per_photo = image_rows(sets, folder, rounds)
    settings = Settings.from_env().with_roots(folder)
    lines = [*image_lines]
    embedder = Embedder("lite", settings=settings)
    wav = synth.speak("The committee approved the new budget for the city library after a long debate. " * 3, folder / "s.wav")
    audio_seconds = float(embedder.embed([Part.from_path(wav)]).metadata[0]["parts"][0]["seconds"])
    whisper = WhisperModel(str(asr.default_weights()), device="cpu", compute_type="int8")
    plain_audio = timed(lambda: list(whisper.transcribe(str(wav), language="en", beam_size=5)[0]), repeats=1)
    ours_audio = timed(lambda: embedder.embed([Part.from_path(wav)]), repeats=1)
    lines.append(f"| audio seconds per second | {audio_seconds / plain_audio:.1f} (faster-whisper transcript only) | "
                 f"{audio_seconds / ours_audio:.1f} | {plain_audio / ours_audio:.2f} |")  # fmt: skip

    video = synth.make_video(photos[:2], folder / "v.mp4", seconds=audio_seconds, audio_wav=wav)
    ours_video = timed(lambda: embedder.embed([Part.from_path(video)]), repeats=1)
    frames = max(1, min(4, int(np.ceil(audio_seconds / 4.0))))
    plain_video = frames * plain_per_photo + plain_audio  # the same frames and track, plain rates
    lines.append(f"| video seconds per second (with speech) | {audio_seconds / plain_video:.1f} (plain rates above) | "
                 f"{audio_seconds / ours_video:.1f} | {plain_video / ours_video:.2f} |")  # fmt: skip

    paragraphs = [" ".join(sentences(6, seed=i)) for i in range(6)]
    pdf = synth.make_pdf(paragraphs, folder / "t.pdf")
    scan = synth.make_pdf(paragraphs, folder / "s.pdf", scanned=True)
    st = SentenceTransformer(str(minilm.default_weights()), device="cpu")

    def plain_pdf() -> None:
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(str(pdf))
        st.encode([page.get_textpage().get_text_range() for page in document], normalize_embeddings=True)

    plain_pages = timed(plain_pdf)
    ours_pdf = timed(lambda: embedder.embed([Part.from_path(pdf)]), repeats=1)
    ours_scan = timed(lambda: embedder.embed([Part.from_path(scan)]), repeats=1)
    pages = len(paragraphs)
    lines += [
        f"| PDF pages/s, text layer | {pages / plain_pages:.1f} (pypdfium2 text + sentence-transformers) | "
        f"{pages / ours_pdf:.1f} | {plain_pages / ours_pdf:.2f} |",
        f"| PDF pages/s, scanned (render + OCR) | - | {pages / ours_scan:.2f} | - |",
    ]
    return lines


RESIDENT = """
import json, resource, tempfile
from pathlib import Path
from omnivec import Embedder, Part
from omnivec.config import Settings
folder = {folder!r}
e = Embedder("lite", settings=Settings.from_env().with_roots(Path(folder)))
e.model.build()
e.embed(["a text"] + [Part.from_path(Path(folder) / name) for name in ("p0.png", "s.wav", "v.mp4", "t.pdf", "s.pdf")])
print(json.dumps({{"peak_rss_mb": peak_rss_mb()}}))
"""


def _with(settings: Settings, **changes: object) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)  # type: ignore[arg-type]


def _save(image: object, path: Path) -> Path:
    image.save(path)  # type: ignore[attr-defined]
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer items, for a smoke run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed passes per engine (text and images)")
    parser.add_argument("--only", choices=("text", "media"), help="run one section (media: images, audio, video, PDF)")
    parser.add_argument("--skip-media", action="store_true", help="the same as --only text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only != "media":
            print("\n".join(text_section(64 if args.quick else 200, args.rounds, folder)), flush=True)
        if not args.skip_media and args.only != "text":
            print("\n" + "\n".join(media_section(folder, args.quick, args.rounds)), flush=True)
            resident = fresh_process(RESIDENT.format(folder=str(folder)))
            print(f"\nwhole lite model resident (fresh process, every encoder loaded, every modality embedded): "
                  f"peak RSS {resident['peak_rss_mb']:.0f} MB")  # fmt: skip
    print(f"\nthis benchmark process (every engine loaded): peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
