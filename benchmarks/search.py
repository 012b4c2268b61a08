"""Search speed and recall: two-stage Matryoshka retrieval vs exact brute force vs one-stage ANN.

Vectors are synthetic but shaped like the lite model's: per-dimension standard deviation
decaying as d^-0.555 (lite's rotated embeddings of its 6,000-sentence rotation corpus have
variance ~ d^-1.11, 81% of it in the first 128 of 384 dims), a shared mean direction
(random pairs have cosine ~0.1, as in lite), and topic clusters of ~200 documents so that
nearest neighbours are real neighbours. Queries are fresh draws from the same clusters.
The script prints these statistics next to lite's, so the resemblance can be checked.

Methods, all returning the top 10 by dot product of unit vectors:

* numpy brute force: (N, 384) @ (384,) then argpartition; the exact reference.
* numpy two-stage: brute force on the 128-d prefixes, exact rerank of 100 candidates
  (isolates what the prefix costs in recall, without ANN error).
* LanceDB one-stage ANN: the same index type on the full 384-d vectors, top 10 directly.
* LanceDB two-stage (omnivec): IVF_RQ on the 128-d prefixes -> 100 candidates' row ids ->
  their full vectors from the row cache (a memory-mapped copy keyed by stable row id) -> exact
  rerank -> the 10 hits, their records from the same cache; the configuration ``omnivec index``
  uses (``AnnConfig``, ``CANDIDATES_PER_HIT``), with a cheaper and a dearer ``nprobes`` beside it.
* The same before the row cache: LanceDB's sync query builder reading the 50 candidates' full
  vectors and records in the ANN pass (the previous default, ``nprobes`` 60).

Where the time goes (1M rows, 2 loaded cores): the IVF_RQ search itself ~1-2.5 ms (~0.2 ms per
10 lists probed), LanceDB's fixed cost per query ~1 ms (the sync query builder added ~0.8 ms
more: five hops to LanceDB's event loop instead of one), any second Lance read (take by row id)
~1-2 ms whatever its size, the row cache lookup and rerank ~0.15 ms, JSON and hits ~0.1 ms.

Latency is per single query, sequential, in one process (2 cores here, shared with other
jobs: read the ratios). Recall@10 is against the numpy exact top 10.

    .venv/bin/python benchmarks/search.py            # 100k and 1M (about 15 minutes)
    .venv/bin/python benchmarks/search.py --quick    # 100k only
    .venv/bin/python benchmarks/search.py --sizes 1000000 --reuse /tmp/search-bench   # build once, rerun fast
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from omnivec.index.lancedb_store import AnnConfig, LanceStore
from omnivec.index.search import CANDIDATES_PER_HIT, exact, prefix_of, two_stage
from omnivec.index.store import Chunk, Filters, IndexIdentity, row_to_chunk

DIM, PREFIX, K = 384, 128, 10
DOCS_PER_TOPIC = 200
BLOCK = 100_000  # rows generated and written at a time


@dataclass(frozen=True, slots=True)
class Row:
    method: str
    n: int
    recall: float
    p50_ms: float
    mean_ms: float
    build_s: float
    speedup: float = 0.0


def spectrum() -> np.ndarray:
    return (1.0 + np.arange(DIM)) ** -0.555  # (DIM,) standard deviation per dimension


class Generator:
    """Clustered unit vectors with lite's spectrum and mean direction."""

    def __init__(self, n_topics: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.std = spectrum().astype(np.float32)
        self.centers = (rng.standard_normal((n_topics, DIM)) * self.std).astype(np.float32)  # (T, DIM)
        mean = rng.standard_normal(DIM).astype(np.float32) * self.std
        self.mean = mean / np.linalg.norm(mean) * 0.55 * np.linalg.norm(self.std)

    def draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        topics = rng.integers(0, len(self.centers), n)
        noise = rng.standard_normal((n, DIM), dtype=np.float32) * self.std * 0.9
        x = self.mean + self.centers[topics] + noise  # (n, DIM)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def describe(db: np.ndarray) -> str:
    rng = np.random.default_rng(1)
    sample = db[rng.integers(0, len(db), 2000)]
    pairs = float((sample[:1000] * sample[1000:]).sum(1).mean())
    var = db[:100_000].var(axis=0)
    head = float(var[:PREFIX].sum() / var.sum())
    return (
        f"random-pair cosine {pairs:.3f} (lite 0.098); variance in first {PREFIX} dims {head:.0%} (lite 81%)"
    )


def exact_top(db: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) exact neighbours, blockwise so memory stays flat."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(db), BLOCK):
        scores = queries @ db[start : start + BLOCK].T  # (Q, B)
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        cand_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
        cand_ids = np.concatenate([best_ids, top + start], axis=1)
        keep = np.argsort(-cand_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(cand_scores, keep, 1)
        best_ids = np.take_along_axis(cand_ids, keep, 1)
    return best_ids


def recall(found: Sequence[Sequence[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth.tolist(), strict=True)]))


def timed_queries(
    queries: np.ndarray, search: Callable[[np.ndarray], list[int]]
) -> tuple[list[list[int]], list[float]]:
    search(queries[0])  # warm-up: caches, lazy loads
    found, times = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(search(q))
        times.append((time.perf_counter() - start) * 1000)
    return found, times


def row(
    method: str, n: int, found: list[list[int]], times: list[float], truth: np.ndarray, build: float = 0.0
) -> Row:
    return Row(method, n, recall(found, truth), statistics.median(times), statistics.fmean(times), build)


def settle() -> None:
    """Pause after a numpy run: OpenBLAS's threads spin for a while after a matmul, and on two
    cores they slowed whichever method ran next (measured: the method next to brute force in
    every round was the slowest of the two-stage settings, 6.4 vs 4.4-5.1 ms at 1M)."""
    time.sleep(1.0)


# -- methods --------------------------------------------------------------------------------------
def numpy_exact(db: np.ndarray) -> Callable[[np.ndarray], list[int]]:
    def search(q: np.ndarray) -> list[int]:
        scores = db @ q  # (N,)
        top = np.argpartition(-scores, K)[:K]
        return top[np.argsort(-scores[top])].tolist()

    return search


def numpy_two_stage(db: np.ndarray, heads: np.ndarray) -> Callable[[np.ndarray], list[int]]:
    def search(q: np.ndarray) -> list[int]:
        head = q[:PREFIX] / np.linalg.norm(q[:PREFIX])
        cand = np.argpartition(-(heads @ head), K * 10)[: K * 10]  # (N, P) @ (P,) -> (N,)
        scores = db[cand] @ q
        return cand[np.argsort(-scores)[:K]].tolist()

    return search


def _row_of(chunk: Chunk) -> int:
    return int(chunk.locator.removeprefix("row:"))


def build_store(folder: Path, gen: Generator, n: int, ann: AnnConfig) -> tuple[LanceStore, np.ndarray, float]:
    """Write n vectors through the real store; return it, the vectors, and the write time."""
    store = LanceStore(folder, IndexIdentity("synthetic", "1", DIM, PREFIX, "lancedb"), ann)
    parts = []
    start = time.perf_counter()
    for first in range(0, n, BLOCK):
        block = gen.draw(min(BLOCK, n - first), seed=1000 + first // BLOCK)
        chunks = [Chunk(f"{i:032d}", f"/corpus/doc{i // 8}.txt", "text", "text_window", f"row:{i}", "", "0" * 64,
                        0.0, "synthetic", "1", DIM) for i in range(first, first + len(block))]  # fmt: skip
        store.add_chunks(chunks, block, prefix_of(block, PREFIX))
        parts.append(block)
    return store, np.concatenate(parts), time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class Built:
    """Seconds spent building: the table, the prefix index, the row cache, the full-vector index."""

    write_s: float
    prefix_index_s: float
    row_cache_s: float
    vector_index_s: float


def prepare(folder: Path, gen: Generator, n: int, ann: AnnConfig) -> tuple[LanceStore, np.ndarray, Built]:
    """The store in ``folder`` with n vectors, both ANN indexes and the row cache, and the vectors.

    Built once: a folder that already holds a finished build of the same n and ANN settings (see
    ``--reuse``) is opened as it is, so settings can be compared without minutes of building.
    """
    marker = folder / "built.json"
    settings = {"n": n, "ann": repr(replace(ann, nprobes=0, refine_factor=None))}  # what the build depends on
    if marker.is_file() and json.loads(marker.read_text())["settings"] == settings:
        store = LanceStore(folder / "lance", IndexIdentity("synthetic", "1", DIM, PREFIX, "lancedb"), ann)
        return store, np.load(folder / "vectors.npy"), Built(**json.loads(marker.read_text())["built"])
    shutil.rmtree(folder / "lance", ignore_errors=True)
    store, db, write_s = build_store(folder / "lance", gen, n, ann)
    start = time.perf_counter()
    store.build_ann_index(n)
    prefix_s = time.perf_counter() - start
    start = time.perf_counter()
    store.write_row_cache()
    cache_s = time.perf_counter() - start
    start = time.perf_counter()
    store._chunks.create_index("vector", config=ann.lance_index(n, DIM), replace=True)
    store.refresh_indexes()
    built = Built(write_s, prefix_s, cache_s, time.perf_counter() - start)
    np.save(folder / "vectors.npy", db)
    marker.write_text(json.dumps({"settings": settings, "built": asdict(built)}))
    return store, db, built


def lance_two_stage(store: LanceStore, candidates: int) -> Callable[[np.ndarray], list[int]]:
    return lambda q: [_row_of(h.chunk) for h in two_stage(store, q, K, Filters(), candidates)]


def lance_read_in_pass(store: LanceStore, nprobes: int, candidates: int) -> Callable[[np.ndarray], list[int]]:
    """The two-stage search before the row cache: LanceDB's sync query builder, the candidates'
    full vectors and records read by Lance in the ANN pass, then the same exact rerank."""

    def search(q: np.ndarray) -> list[int]:
        head = prefix_of(q[None, :], PREFIX)[0]
        table = (
            store._chunks.search(head, vector_column_name="prefix").distance_type("dot")
            .select(["vector", "record", "_distance"]).with_row_id(True).limit(K * candidates)
            .nprobes(nprobes).to_arrow()
        )  # fmt: skip
        vectors = table.column("vector").combine_chunks().flatten().to_numpy().reshape(-1, DIM)
        records = table.column("record").to_pylist()
        best = np.argsort(-(vectors @ q), kind="stable")[:K]  # (C, D) @ (D,) -> (C,)
        return [_row_of(row_to_chunk({"record": records[i]})) for i in best]

    return search


def lance_one_stage(store: LanceStore) -> Callable[[np.ndarray], list[int]]:
    return lambda q: [_row_of(h.chunk) for h in exact(store, q, K, Filters())]


@dataclass(frozen=True, slots=True)
class Setting:
    nprobes: int
    candidates: int  # two-stage: candidates per hit
    refine: int | None  # LanceDB refine_factor


def default_setting(ann: AnnConfig) -> Setting:
    """What ``omnivec index`` uses."""
    return Setting(ann.nprobes, CANDIDATES_PER_HIT, ann.refine_factor)


def run(
    n: int,
    n_queries: int,
    brute_queries: int,
    ann: AnnConfig,
    sweep: list[Setting],
    reuse: Path | None,
    rounds: int,
) -> list[Row]:
    gen = Generator(max(1, n // DOCS_PER_TOPIC))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="omnivec-bench-") as tmp:
        folder = reuse / str(n) if reuse else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        store, db, built = prepare(folder, gen, n, ann)
        queries = gen.draw(n_queries, seed=7)
        truth = exact_top(db, queries, K)
        print(f"  N={n:,}: {built}; {describe(db)}", flush=True)

        found, times = timed_queries(queries[:brute_queries], numpy_exact(db))
        rows.append(row("numpy brute force (exact)", n, found, times, truth[:brute_queries]))
        heads = prefix_of(db, PREFIX)
        found, times = timed_queries(queries[:brute_queries], numpy_two_stage(db, heads))
        rows.append(
            row(f"numpy two-stage ({PREFIX}-d scan, rerank 100)", n, found, times, truth[:brute_queries])
        )
        del heads
        settle()

        two_build = built.prefix_index_s + built.row_cache_s
        # Rounds rotate the methods, so that other jobs on the machine weigh on all of them alike.
        methods: list[tuple[str, Callable[[np.ndarray], list[int]], AnnConfig, float]] = []
        for s in sweep:
            label = f"two-stage {ann.index_type} {PREFIX}-d, nprobes={s.nprobes}, rerank {s.candidates * K}"
            if s == replace(default_setting(ann), refine=None):
                label = f"**{label} (default)**"
            label += f", refine={s.refine}" if s.refine else ""
            config = replace(ann, nprobes=s.nprobes, refine_factor=s.refine)
            methods.append((label, lance_two_stage(store, s.candidates), config, two_build))
        old = "two-stage, nprobes=60, rerank 50, vectors and records read by LanceDB (before the row cache)"
        methods.append((old, lance_read_in_pass(store, 60, 5), ann, built.prefix_index_s))
        for nprobes in sorted({s.nprobes for s in sweep}):
            label = f"one-stage {ann.index_type} {DIM}-d, nprobes={nprobes}"
            methods.append(
                (label, lance_one_stage(store), replace(ann, nprobes=nprobes), built.vector_index_s)
            )
        timings: dict[str, tuple[list[list[int]], list[float]]] = {}
        brute_means = [rows[0].mean_ms]
        for round_ in range(rounds):
            means = {}
            shift = round_ * 3 % len(methods)  # each round starts with another method
            for label, search, config, _ in methods[shift:] + methods[:shift]:
                store.ann = config
                found, times = timed_queries(queries, search)
                means[label] = f"{statistics.fmean(times):.1f}"
                if label not in timings or statistics.fmean(times) < statistics.fmean(timings[label][1]):
                    timings[label] = (found, times)  # the fastest round, as for brute force
            # Brute force in every round too: on a shared machine its multi-threaded matmul
            # suffers most from other jobs, so the baseline is the fastest of all its
            # measurements (the conservative choice).
            found, times = timed_queries(queries[:brute_queries], numpy_exact(db))
            settle()
            brute_means.append(statistics.fmean(times))
            if brute_means[-1] < rows[0].mean_ms:
                rows[0] = row("numpy brute force (exact)", n, found, times, truth[:brute_queries])
            print(f"  round {round_ + 1}: mean ms {' '.join(means[m[0]] for m in methods)}; brute force {brute_means[-1]:.1f};"
                  f" load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        for label, _, _, build_s in methods:
            rows.append(row(label, n, *timings[label], truth, build_s))
        store.close()
    brute = rows[0].mean_ms
    return [replace(r, speedup=brute / r.mean_ms) for r in rows]


def print_table(rows: list[Row]) -> None:
    print("\n| N | method | recall@10 | p50 ms | mean ms | speed-up vs brute force | index build s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        build = f"{r.build_s:.0f}" if r.build_s else "-"
        print(
            f"| {r.n:,} | {r.method} | {r.recall:.3f} | {r.p50_ms:.1f} | {r.mean_ms:.1f} | {r.speedup:.1f}x | {build} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100k vectors only")
    parser.add_argument("--queries", type=int, default=200, help="queries per ANN method")
    parser.add_argument("--brute-queries", type=int, default=50, help="queries for the numpy methods")
    parser.add_argument("--sweep", nargs="+", default=None, metavar="NPROBES:CANDIDATES:REFINE",
                        help="settings to compare, e.g. 40:10:0 80:10:2 (default: omnivec's, and a cheaper and a dearer one)")  # fmt: skip
    parser.add_argument("--index-type", default=AnnConfig().index_type)
    parser.add_argument("--rq-bits", type=int, default=AnnConfig().rq_bits)
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="override the sizes (100k 1M)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of the ANN methods (the fastest counts)"
    )
    parser.add_argument("--reuse", type=Path, default=None, metavar="DIR",
                        help="build each size once into DIR/<n> and reuse it in later runs (same n and ANN settings)")  # fmt: skip
    args = parser.parse_args()
    ann = replace(AnnConfig(), index_type=args.index_type, rq_bits=args.rq_bits)
    default = default_setting(ann)
    sweep = (
        [Setting(*(int(x) for x in s.split(":"))) for s in args.sweep]
        if args.sweep
        else [
            default,
            replace(default, nprobes=ann.nprobes * 3 // 4),
            replace(default, nprobes=ann.nprobes * 3 // 2),
        ]
    )
    sweep = [replace(s, refine=s.refine or None) for s in sweep]
    rows: list[Row] = []
    print(f"ANN: {ann}; load average {os.getloadavg()[0]:.1f}", flush=True)
    # Each size in a fresh process: LanceDB's worker threads outlive a run and would slow the
    # next run's multi-threaded numpy baseline (measured: 2x), flattering the speed-ups.
    spawn = multiprocessing.get_context("spawn")
    for n in args.sizes or ([100_000] if args.quick else [100_000, 1_000_000]):
        with spawn.Pool(1) as pool:
            rows += pool.apply(
                run, (n, args.queries, args.brute_queries, ann, sweep, args.reuse, args.rounds)
            )
    print_table(rows)
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
