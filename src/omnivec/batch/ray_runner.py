"""The Ray engine: the same chunks as the local engine, embedded by a pool of Ray Data actors.

The dataset is the list of pending chunk descriptors (byte ranges: a few integers each, never
the input itself). ``map_batches`` sends one descriptor at a time to a :class:`ChunkEmbedder`
actor, which holds one :class:`~omnivec.Embedder`, reads its chunk straight from the input file
and runs :func:`~omnivec.batch.chunks.embed_chunk`, the function the local engine runs, so
both engines give the same rows. Results stream back to the driver, which checkpoints them in
the work dir as they arrive (in any order; the output is assembled in chunk order).

On a cluster, the input file and every file it references must be readable at the same path
on every node (a shared filesystem), and omnivec must be installed on every node.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from omnivec.config import Settings
from omnivec.embedder import Embedder
from omnivec.errors import MissingDependency, OmnivecError

from .chunks import ChunkJob, ChunkResult, ChunkSpec, embed_chunk

logger = logging.getLogger(__name__)

_FIELDS = ("index", "start", "end", "first_line", "first_row", "rows")


@dataclass(frozen=True, slots=True)
class RayOptions:
    address: str | None = None  # None: start a local Ray for this job (unless one is running already)
    actors: int | None = None  # model replicas; None = cluster CPUs // cpus_per_actor
    cpus_per_actor: int = 1  # CPUs each replica reserves; also its inference threads


class ChunkEmbedder:
    """A Ray Data actor: loads the model once, then embeds one chunk per call."""

    def __init__(self, job: ChunkJob, model: str, settings: Settings) -> None:
        self.job = job
        self.embedder = Embedder(model, settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        payloads, failures = [], []
        for i in range(len(batch["index"])):
            spec = ChunkSpec(*(int(batch[k][i]) for k in _FIELDS))
            try:
                payloads.append(embed_chunk(self.embedder, self.job, spec).to_bytes())
                failures.append(b"")
            except OmnivecError as exc:  # Ray would drop the original exception: send it as data
                payloads.append(b"")
                failures.append(pickle.dumps(exc))
        return {"index": batch["index"], "payload": np.array(payloads, dtype=object),
                "failure": np.array(failures, dtype=object)}


def run_on_ray(
    job: ChunkJob,
    model: str,
    settings: Settings,
    pending: Sequence[ChunkSpec],
    record: Callable[[ChunkResult], None],
    options: RayOptions,
) -> None:
    """Embed ``pending`` chunks on Ray, calling ``record`` in the driver as each one finishes.

    Raises:
        MissingDependency: Ray Data is not installed.
        OmnivecError: what an actor raised (an engine failure; input errors are rows).
    """
    ray = _import_ray()
    started_here = _connect(ray, options.address)
    try:
        for batch in _dataset(ray, job, model, settings, pending, options).iter_batches(batch_size=None, batch_format="numpy"):
            for payload, failure in zip(batch["payload"], batch["failure"], strict=True):
                if failure:
                    raise pickle.loads(failure)  # an engine failure in an actor (input errors are rows)
                record(ChunkResult.from_bytes(bytes(payload)))
    finally:
        if started_here:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependency("the ray engine needs Ray Data: pip install 'ray[data]'") from exc
    return ray


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address``, or reuse a running Ray, or start a local one. True if started here."""
    if ray.is_initialized():
        return False
    # "local" starts a private instance; None would join whatever `ray start` last ran on this machine.
    ray.init(address=address or "local", include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    return address is None


def _dataset(
    ray: Any, job: ChunkJob, model: str, settings: Settings, pending: Sequence[ChunkSpec], options: RayOptions
) -> Any:
    with warnings.catch_warnings():  # Ray's own defaults trip its deprecation checks when the context is created
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the job reports its own progress
    context.print_on_execution_start = False
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = max(1, min(options.actors or cpus // options.cpus_per_actor, len(pending)))
    logger.info("embedding %d chunks with %d Ray actors", len(pending), actors)
    items = [spec.to_json() for spec in pending]
    return ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        ChunkEmbedder,
        batch_size=1,  # one chunk per call: each result is checkpointed as soon as it is back
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=options.cpus_per_actor,
        fn_constructor_kwargs={
            "job": job, "model": model, "settings": replace(settings, threads=options.cpus_per_actor),
        },
    )
