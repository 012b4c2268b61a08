"""Per-backend CPU throughput with full-size architectures, side by side with ``lite`` in one run.

Every registered backend (``registered_backends()``, so new ones join automatically) gets a
random-weight checkpoint of its real full-size architecture from its own
``save_random_model(dir, "full")``: random weights cost exactly what real ones do. Each backend
is built in one subprocess and measured in another, so memory is returned between backends;
the parent samples the child's RSS with psutil and stops a build that grows past
``--memory-budget`` (reported as skipped). Workloads per modality are the same for every
model: 16 short captions, 320x240 photos, 3 s of speech. Reported: items/s per modality, the
ratio to lite's items/s on the same modality, peak RSS of the measuring process.
``--precisions fp32,bf16`` measures each backend in each precision (``Settings.precision``;
bf16 on CPUs with AVX-512 BF16 or AMX), one row per pair.

    .venv/bin/python benchmarks/backends.py [--only clip,clap] [--skip qwen-omni] [--precisions fp32,bf16]
        [--memory-budget 8] [--seconds 20] [--models-dir ~/.cache/omnivec/bench-models]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
MODALITIES = ("text", "image", "audio")
BATCH = {"text": 16, "image": 4, "audio": 2}  # contents per call


def _sentences() -> list[str]:
    """Caption-length texts (8 words) in the words the random checkpoints' toy tokenizers were
    trained on, so they cut them into about as many tokens as a real tokenizer would (~11)."""
    from omnivec.backends.random_weights import CORPUS

    return list(CORPUS)


def _items(modality: str, media: Path) -> list[Any]:
    from omnivec.content import Part

    if modality == "text":
        return _sentences()
    if modality == "image":
        return [Part.from_bytes(p.read_bytes(), "image/png") for p in sorted(media.glob("photo-*.png"))]
    return [Part.from_bytes((media / "speech.wav").read_bytes(), "audio/wav")]


def make_media(folder: Path) -> None:
    from omnivec.evaluation import synth

    for name, image in list(synth.skimage_photos())[:4]:
        image.convert("RGB").resize((320, 240)).save(folder / f"photo-{name}.png")
    synth.speak("The train to Cambridge leaves from platform four at ten past nine.", folder / "speech.wav")


# -- subprocess roles -------------------------------------------------------------------------------
def build(name: str, path: Path) -> None:
    from omnivec.backends.registry import random_model_saver

    path.mkdir(parents=True, exist_ok=True)
    random_model_saver(name)(path, "full")
    (path / ".complete").write_text("ok")


def measure(name: str, path: Path, media: Path, seconds: float, precision: str = "fp32") -> dict[str, Any]:
    """Items/s per modality the model embeds; each modality runs a warm-up call, then ~``seconds``."""
    import resource

    from omnivec.config import Settings
    from omnivec.content import to_contents
    from omnivec.models.base import EmbedOptions

    settings = Settings(device="cpu", precision=precision).with_roots(media)
    if name == "lite":
        from omnivec.models.lite import LiteModel

        model: Any = LiteModel(settings)
    else:
        from omnivec.backends.registry import backend

        model = backend(name)[1](path, settings)
    # The random checkpoints carry a toy tokenizer that splits words finely: cut at the context length.
    options = EmbedOptions(auto_truncate=True)
    rates = {}
    for modality in MODALITIES:
        if modality not in model.info.modalities:
            continue
        items = _items(modality, media)
        batch = (items * BATCH[modality])[: BATCH[modality]]
        contents = to_contents(batch)
        model.embed_contents(contents, options)  # warm-up: lazy loads, caches, first-call costs
        done, start = 0, time.perf_counter()
        while True:
            model.embed_contents(contents, options)
            done += len(contents)
            if time.perf_counter() - start >= seconds:
                break
        rates[modality] = done / (time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    label = name if name == "lite" or precision == "fp32" else f"{name} ({precision})"
    return {"name": label, "dim": model.info.dim, "rates": rates, "peak_rss_mb": peak_mb}


# -- parent ------------------------------------------------------------------------------------------
def _run(args: list[str], budget_gb: float, timeout: float) -> tuple[int, str, float]:
    """Run a child, sampling its RSS; kill it past the budget. Returns (code, stdout, peak GB)."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    peak = 0.0
    killed = threading.Event()

    def watch() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = ps.memory_info().rss / 2**30
            except psutil.NoSuchProcess:
                return
            peak = max(peak, rss)
            if rss > budget_gb:
                killed.set()
                proc.kill()
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return -2, out, peak
    watcher.join()
    return (-1 if killed.is_set() else proc.returncode), out, peak


def main() -> None:
    from omnivec.backends.registry import registered_backends

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated backends (lite always runs)")
    parser.add_argument("--skip", default="", help="comma-separated backends to leave out")
    parser.add_argument("--memory-budget", type=float, default=8.0, help="GB a build or a measurement may use")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per modality")
    parser.add_argument("--precisions", default="fp32", help="comma-separated precisions per backend (fp32, bf16)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per subprocess")
    parser.add_argument("--models-dir", type=Path, default=Path.home() / ".cache" / "omnivec" / "bench-models")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--media", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.build:
        build(args.build, args.path)
        return
    if args.worker:
        print(json.dumps(measure(args.worker, args.path, args.media, args.seconds, args.precision)))
        return

    only = {s.replace("_", "-") for s in args.only.split(",") if s}
    skip = {s.replace("_", "-") for s in args.skip.split(",") if s}
    names = [b.name for b in registered_backends() if (not only or b.name in only) and b.name not in skip]
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp)
        make_media(media)
        for name in ["lite", *names]:
            path = args.models_dir / f"{name}-full"
            if name != "lite" and not (path / ".complete").exists():
                print(f"building {name} (full size, random weights) ...", file=sys.stderr, flush=True)
                code, _, peak = _run(["--build", name, "--path", str(path)], args.memory_budget, args.timeout)
                if code != 0:
                    why = f"build exceeded the {args.memory_budget:g} GB memory budget" if code == -1 else f"build failed (exit {code})"
                    notes.append(f"{name}: skipped, {why} (peak {peak:.1f} GB); rerun with --memory-budget to allow more")
                    print(notes[-1], file=sys.stderr, flush=True)
                    continue
            for precision in ["fp32"] if name == "lite" else args.precisions.split(","):
                print(f"measuring {name} ({precision}) ...", file=sys.stderr, flush=True)
                worker = ["--worker", name, "--path", str(path), "--media", str(media), "--seconds", str(args.seconds),
                          "--precision", precision]  # fmt: skip
                code, out, peak = _run(worker, args.memory_budget, args.timeout)
                if code != 0 or not out.strip():
                    why = f"exceeded the {args.memory_budget:g} GB memory budget" if code == -1 else f"failed (exit {code})"
                    notes.append(f"{name} ({precision}): skipped, measurement {why} (peak {peak:.1f} GB)")
                    print(notes[-1], file=sys.stderr, flush=True)
                    continue
                results.append(json.loads(out.strip().splitlines()[-1]))
    print(table(results))
    for note in notes:
        print(f"- {note}")


def table(results: list[dict[str, Any]]) -> str:
    lite = next((r["rates"] for r in results if r["name"] == "lite"), {})
    lines = [
        "| model | dim | " + " | ".join(f"{m}/s (x lite)" for m in MODALITIES) + " | peak RSS MB |",
        "|---|---:|" + "---:|" * len(MODALITIES) + "---:|",
    ]
    for r in results:
        cells = []
        for m in MODALITIES:
            rate = r["rates"].get(m)
            if rate is None:
                cells.append("-")
            else:
                ratio = f" ({rate / lite[m]:.2f})" if m in lite and r["name"] != "lite" else ""
                cells.append(f"{rate:.2f}{ratio}")
        lines.append(f"| {r['name']} | {r['dim']} | " + " | ".join(cells) + f" | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
