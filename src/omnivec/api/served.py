"""The served model: name and aliases, per-request options, readiness, and batched embedding.

Both APIs reach the model through :class:`ServedModel`: they resolve the requested name
(``models/lite``, an alias such as ``gemini-embedding-001``), check options at the edge so a
bad task or width fails before it is batched, and submit ``(content, options)`` items, which
are grouped by options and handed to the :class:`~omnivec.engine.batcher.Batcher`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnivec.api.settings import ServerSettings
from omnivec.content import Content, Part
from omnivec.embedder import Embedder
from omnivec.engine.batcher import Batcher, BatchObserver
from omnivec.errors import InvalidInput, ModelNotFound
from omnivec.models.base import Embeddings, EmbedOptions, ModelInfo, check_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    """One content to embed with its options: a row of a request."""

    content: Content
    options: EmbedOptions


@dataclass(frozen=True, slots=True)
class Embedded:
    vector: np.ndarray  # (dim,) float32, unit length
    metadata: dict[str, Any]


class ServedModel:
    """One model behind the API, with its aliases and its batcher."""

    def __init__(
        self, settings: ServerSettings, embedder: Embedder, observer: BatchObserver | None = None
    ) -> None:
        self.name = settings.model
        self.embedder = embedder
        self.aliases = settings.alias_table
        self.limits = embedder.settings.limits  # what the model enforces
        self.max_segmented_seconds = settings.max_segmented_seconds
        self.batcher = Batcher(self._run, settings.policy, observer)
        self.ready = asyncio.Event()
        self._warmup: asyncio.Task[None] | None = None

    @property
    def info(self) -> ModelInfo:
        return self.embedder.info

    def names(self) -> list[str]:
        """The served name, then every alias that resolves to it."""
        return [self.name, *sorted(a for a, target in self.aliases.items() if target == self.name)]

    def resolve(self, requested: str) -> str:
        """Map ``models/x`` or ``x`` (a served name or an alias) to the served model's name.

        Raises:
            ModelNotFound: nothing by that name is served here.
        """
        bare = requested.strip().removeprefix("models/")
        if bare == self.name or self.aliases.get(bare) == self.name:
            return self.name
        raise ModelNotFound(
            f"model {requested!r} is not served here; served: {self.name} "
            f"(also as {', '.join(self.names()[1:]) or 'no aliases'}); list them with GET /v1beta/models"
        )

    def options(
        self,
        task: str | None = None,
        title: str | None = None,
        dim: int | None = None,
        auto_truncate: bool = False,
    ) -> EmbedOptions:
        """Check request options now, so a bad one fails before it joins a batch.

        Raises:
            InvalidInput: an unknown task type, or a width this model does not give.
        """
        task = check_task(task)
        native = self.info.dim
        if dim is not None and not 1 <= dim <= native:
            raise InvalidInput(
                f"output dimensionality {dim} is out of range; {self.name} gives 1 to {native}"
            )
        # The model reads a title only with RETRIEVAL_DOCUMENT; dropping it elsewhere lets more requests share a batch.
        title = title if task == "RETRIEVAL_DOCUMENT" else None
        return EmbedOptions(task=task, title=title, dim=dim, auto_truncate=auto_truncate)

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.batcher.start()
        self._warmup = asyncio.get_running_loop().create_task(self._warm(), name="omnivec-warmup")

    async def _warm(self) -> None:
        await self.batcher.run_in_worker(
            lambda: self._run([Content((Part(text="warm up"),))], EmbedOptions())
        )
        logger.info("model %s is loaded and ready", self.name)
        self.ready.set()

    async def close(self) -> None:
        await self.batcher.close()
        if self._warmup is not None and not self._warmup.done():
            self._warmup.cancel()

    # -- embedding ------------------------------------------------------------------------------
    def _run(self, contents: list[Content], options: EmbedOptions) -> Embeddings:
        return self.embedder.embed_contents(contents, options)

    async def embed(self, items: Sequence[Item]) -> list[Embedded]:
        """Embed ``items`` in order; items with equal options share batches.

        Raises:
            OmnivecError: as raised by the batcher or the model for these items.
        """
        groups: dict[EmbedOptions, list[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault(item.options, []).append(index)
        requests = [self.batcher.embed([items[i].content for i in rows], options) for options, rows in groups.items()]
        # One group is the common case (one item, or one task for all): no task per group.
        results = [await requests[0]] if len(requests) == 1 else await asyncio.gather(*requests)
        out: list[Embedded | None] = [None] * len(items)
        for rows, result in zip(groups.values(), results, strict=True):
            for row, vector, metadata in zip(rows, result.vectors, result.metadata, strict=True):
                out[row] = Embedded(vector, metadata)
        return [e for e in out if e is not None]
