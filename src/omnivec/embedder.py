"""The public entry points: :class:`Embedder` for repeated use and :func:`embed` for one call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from omnivec.config import Settings
from omnivec.content import Content, to_contents
from omnivec.models.base import Embeddings, EmbedOptions, Model, ModelInfo, model_factory


class Embedder:
    """Embeds batches of inputs with one model, loaded lazily and kept.

    Args:
        model: a registered model name (``omnivec models`` lists them).
        settings: allowed roots, cache folder, limits; defaults to ``Settings.from_env()``.

    Example:
        >>> emb = Embedder()
        >>> result = emb.embed(["a cat", Path("cat.jpg")], task="RETRIEVAL_DOCUMENT", dim=256)
        >>> result.vectors.shape
        (2, 256)
    """

    def __init__(self, model: str | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.model_name = model or self.settings.model
        self._factory = model_factory(self.model_name, self.settings)
        self._model: Model | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Model:
        with self._lock:
            if self._model is None:
                self._model = self._factory(settings=self.settings)
            return self._model

    @property
    def info(self) -> ModelInfo:
        return self.model.info

    def embed(
        self,
        inputs: Any,
        *,
        task: str | None = None,
        title: str | None = None,
        dim: int | None = None,
        auto_truncate: bool = False,
        video_audio: bool = True,
        rotate: bool = True,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> Embeddings:
        """Embed a batch: each item (str, Path, PIL image, Part, or a list of them) gives one vector.

        Args:
            inputs: one item or a list of items; a list inside the list is one multi-part Content.
            task: a Gemini task type such as ``RETRIEVAL_QUERY``.
            title: document title, used with ``RETRIEVAL_DOCUMENT``.
            dim: Matryoshka output width (truncated and renormalized); None gives the native width.
            auto_truncate: cut text over the token limit instead of raising LimitExceeded.
            video_audio: embed a video's audio track with its frames.
            rotate: apply the Matryoshka rotation (turn off only to measure its effect).
            batch_size: contents per model call.
            progress: called with the number of contents finished after each model call.

        Returns:
            Embeddings with (N, dim) float32 unit vectors, the model identity, and metadata.

        Raises:
            InvalidInput: bad input (its subclasses say which: type, decoding, limits).
            AccessDenied: a path outside the allowed roots.
        """
        contents = to_contents(inputs)
        options = EmbedOptions(task, title, dim, auto_truncate, video_audio, rotate)
        return self.embed_contents(contents, options, batch_size=batch_size, progress=progress)

    def embed_contents(
        self,
        contents: list[Content],
        options: EmbedOptions,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> Embeddings:
        if len(contents) <= batch_size:
            result = self.model.embed_contents(contents, options)
            if progress:
                progress(len(contents))
            return result
        # Length-bucketed: contents of similar size share a model call, so little is padding;
        # the results go back in input order.
        order = sorted(range(len(contents)), key=lambda i: _size_key(contents[i]))
        parts = []
        for start in range(0, len(order), batch_size):
            chunk = [contents[i] for i in order[start : start + batch_size]]
            parts.append(self.model.embed_contents(chunk, options))
            if progress:
                progress(len(parts[-1]))
        return _reorder(concat(parts), order)


def _size_key(content: Content) -> tuple[bool, int]:
    """Text-only contents first, by characters; media keeps its order at the end."""
    has_media = any(part.text is None for part in content.parts)
    return has_media, 0 if has_media else sum(len(part.text or "") for part in content.parts)


def _reorder(result: Embeddings, order: list[int]) -> Embeddings:
    """Undo the sort: row ``k`` of ``result`` belongs to input ``order[k]``."""
    import numpy as np

    inverse = np.argsort(np.asarray(order))
    return Embeddings(
        result.vectors[inverse], result.model, result.version, result.dim, [result.metadata[i] for i in inverse]
    )


def concat(results: list[Embeddings]) -> Embeddings:
    import numpy as np

    first = results[0]
    return Embeddings(
        np.concatenate([r.vectors for r in results]),
        first.model,
        first.version,
        first.dim,
        [m for r in results for m in r.metadata],
    )


_DEFAULT: dict[str, Embedder] = {}
_DEFAULT_LOCK = threading.Lock()


def embed(inputs: Any, *, model: str | None = None, **options: Any) -> Embeddings:
    """Embed with a shared default :class:`Embedder` (settings from ``OMNIVEC_*`` variables)."""
    name = model or Settings.from_env().model
    with _DEFAULT_LOCK:
        embedder = _DEFAULT.setdefault(name, Embedder(name))
    return embedder.embed(inputs, **options)
