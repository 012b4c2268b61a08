"""infinity-emb on the texts of ``benchmarks/throughput.py``, run inside ``.venv-peers``.

Reads a JSON list of texts, embeds them with infinity-emb's torch engine in batches of 32 (the
same weights as omnivec lite), times the batch run and single short queries, and writes a JSON
report (and the vectors, for a cosine check) for ``throughput.py`` to print beside omnivec.

    .venv-peers/bin/python benchmarks/peers/infinity_bench.py MODEL_DIR TEXTS.json OUT.json
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

import numpy as np


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


async def measure(model: str, texts: list[str], out: str, repeats: int) -> None:
    started = time.perf_counter()
    from infinity_emb import AsyncEmbeddingEngine, EngineArgs

    engine = AsyncEmbeddingEngine.from_args(
        EngineArgs(model_name_or_path=model, engine="torch", device="cpu", batch_size=32, bettertransformer=False)
    )
    async with engine:
        await engine.embed(sentences=["warm up"])
        cold = time.perf_counter() - started
        runs = []
        for _ in range(repeats + 1):  # the first is a warm-up
            t0 = time.perf_counter()
            vectors, _ = await engine.embed(sentences=texts)
            runs.append(time.perf_counter() - t0)
        single = []
        for _ in range(60):
            t0 = time.perf_counter()
            await engine.embed(sentences=["how do glaciers move"])
            single.append(time.perf_counter() - t0)
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    np.save(out + ".npy", matrix)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({
            "seconds": statistics.median(runs[1:]),
            "single_ms": [1e3 * s for s in single[10:]],
            "cold_start_s": cold,
            "peak_rss_mb": peak_rss_mb(),
            "version": __import__("infinity_emb").__version__,
        }, f)


def main() -> None:
    model, texts_path, out = sys.argv[1:4]
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    asyncio.run(measure(model, texts, out, repeats=3))


if __name__ == "__main__":
    main()
