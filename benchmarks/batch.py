"""Batch jobs: the local engine against the Ray engine on the same input, in one run.

Each engine runs `omnivec batch run` as a subprocess on the same JSONL (500 texts and 30 image
files by default) into a .npy; the script samples the memory of the whole process tree (the
CLI, and for Ray its local cluster: GCS, raylet, actors) with psutil. It reports wall time,
items/s, peak RSS summed over the tree (shared pages counted once per process, so an
overestimate) and peak PSS (shared pages split between processes: the honest total), the
Ray/local ratio, and checks that both engines wrote the same rows.

    .venv/bin/python benchmarks/batch.py [--texts 500] [--images 30] [--chunk-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from omnivec.evaluation import synth

WORDS = (
    "river mountain engine budget violin harbor protein senate glacier orbit lantern courier "
    "algorithm festival vaccine copper meadow tariff satellite novel bakery volcano ledger"
).split()


def build_input(folder: Path, n_texts: int, n_images: int) -> Path:
    """Texts of 4 to 64 words and PNG files cut from scikit-image's photos, shuffled with a fixed seed."""
    rng = random.Random(0)
    lines = [{"id": f"text-{i}", "text": " ".join(rng.choice(WORDS) for _ in range(rng.choice((4, 8, 16, 32, 64))))}
             for i in range(n_texts)]
    photos = [image.convert("RGB") for _, image in synth.skimage_photos()]
    for i in range(n_images):
        image = photos[i % len(photos)]
        w, h = image.size
        crop = image.crop((0, 0, w - (i // len(photos)) * w // 8, h))  # repeats are cropped: distinct files
        path = folder / f"image-{i}.png"
        crop.save(path)
        lines.append({"id": f"image-{i}", "path": str(path)})
    rng.shuffle(lines)
    path = folder / "input.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@dataclass(frozen=True, slots=True)
class Run:
    engine: str
    seconds: float  # wall time of the whole command, Python start to exit
    job_seconds: float  # run_job's own time (for Ray: includes starting the cluster and the actors)
    peak_rss_mb: float  # summed over the process tree
    peak_pss_mb: float
    processes: int  # most processes seen at once in the tree


class TreeMemory:
    """Samples RSS and PSS of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.root, self.interval = psutil.Process(pid), interval
        self.rss = self.pss = 0.0
        self.processes = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            rss = pss = 0.0
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in tree:
                try:
                    info = proc.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
            self.rss, self.pss = max(self.rss, rss / 2**20), max(self.pss, pss / 2**20)
            self.processes = max(self.processes, len(tree))
            time.sleep(self.interval)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def run_engine(engine: str, input_path: Path, output: Path, chunk_size: int, batch_size: int) -> Run:
    command = [sys.executable, "-m", "omnivec.batch.cli", "run", str(input_path), str(output), "--engine", engine,
               "--allow", str(input_path.parent), "--chunk-size", str(chunk_size), "--batch-size", str(batch_size)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(proc.pid)
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    memory.close()
    if proc.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{stderr}")
    summary = json.loads(output.with_name(output.name + ".summary.json").read_text())
    return Run(engine, seconds, summary["seconds"], memory.rss, memory.pss, memory.processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        input_path = build_input(folder, args.texts, args.images)
        items = args.texts + args.images
        runs = [run_engine(e, input_path, folder / f"{e}.npy", args.chunk_size, args.batch_size) for e in ("local", "ray")]
        local, ray = (np.load(folder / f"{e}.npy") for e in ("local", "ray"))
        ids = [(folder / f"{e}.ids.jsonl").read_text() for e in ("local", "ray")]
    print(f"# batch engines: {args.texts} texts + {args.images} images, chunk {args.chunk_size}, batch {args.batch_size}, "
          f"{psutil.cpu_count()} CPUs\n")
    print("| engine | wall s | items/s (wall) | job s | items/s (job) | peak RSS MiB (tree) | peak PSS MiB (tree) | processes |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r.engine} | {r.seconds:.1f} | {items / r.seconds:.1f} | {r.job_seconds:.1f} | {items / r.job_seconds:.1f} "
              f"| {r.peak_rss_mb:.0f} | {r.peak_pss_mb:.0f} | {r.processes} |")
    print(f"\nray / local: {runs[0].seconds / runs[1].seconds:.2f}x items/s (wall), "
          f"{runs[0].job_seconds / runs[1].job_seconds:.2f}x (job), {runs[1].peak_pss_mb / runs[0].peak_pss_mb:.2f}x memory (PSS)")
    worst = int(np.abs(local - ray).max(axis=1).argmax())
    print(f"same rows: {ids[0] == ids[1]}; largest vector difference: {float(np.abs(local - ray).max()):.1e} "
          f"(row {worst}: {json.loads(ids[0].splitlines()[worst])['key']})")


if __name__ == "__main__":
    main()
