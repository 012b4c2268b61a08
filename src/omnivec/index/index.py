"""The :class:`Index`: a folder on disk holding chunks of files and their vectors, and its verbs.

``Index.open`` creates or opens the folder, checks that the embedder is the model the index was
built with, and picks the backend recorded at creation. ``add`` ingests (incrementally and
crash-safely, see :mod:`omnivec.index.ingest`), ``search`` embeds a query and runs the
two-stage search (see :mod:`omnivec.index.search`), ``delete`` and ``stats`` do what they say.
Writers take an exclusive lock on ``<folder>/lock``; searches never wait.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from omnivec.content import Part
from omnivec.embedder import Embedder
from omnivec.errors import InvalidInput, NotFound, Unavailable
from omnivec.index.chunking import ChunkingPolicy
from omnivec.index.ingest import Ingester, IngestProgress, IngestReport, remove, sources_to_remove
from omnivec.index.search import Hit, exact, match_sources, two_stage
from omnivec.index.store import (
    BACKENDS,
    DEFAULT_PREFIX_DIM,
    Filters,
    IndexIdentity,
    VectorStore,
    read_identity,
    write_identity,
)
from omnivec.models.base import Embeddings

logger = logging.getLogger(__name__)

DEFAULT_FOLDER = ".omnivec-index"
MODALITIES = ("text", "image", "audio", "video", "pdf")


def default_folder() -> Path:
    """``$OMNIVEC_INDEX``, else ``./.omnivec-index``."""
    return Path(os.environ.get("OMNIVEC_INDEX") or DEFAULT_FOLDER)


@dataclass(frozen=True, slots=True)
class IndexStats:
    folder: str
    backend: str
    model: str
    version: str
    dim: int
    prefix_dim: int
    files: int
    chunks: int
    files_by_modality: dict[str, int]
    chunks_by_modality: dict[str, int]
    ann_index: str | None  # None: searches scan every row (exact)


def open_store(folder: Path, identity: IndexIdentity) -> VectorStore:
    folder.mkdir(parents=True, exist_ok=True)
    if identity.backend == "lancedb":
        from omnivec.index.lancedb_store import LanceStore

        return LanceStore(folder / "lancedb", identity)
    from omnivec.index.milvus_store import MilvusStore

    return MilvusStore(str(folder / "milvus.db"), identity)


@contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    """One writer at a time; the lock dies with its process, so a killed ingest never blocks."""
    import fcntl

    with (folder / "lock").open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Unavailable(
                f"index {folder} is being written by another process; try again when it is done"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class Index:
    """A multimodal index of files in a folder on disk.

    Example:
        >>> with Index.open(".omnivec-index", Embedder("lite")) as index:
        ...     index.add([Path("docs")])
        ...     hits = index.search("a cat on a sofa", k=5, modalities=["image", "video"])
    """

    def __init__(self, folder: Path, store: VectorStore, embedder: Embedder | None) -> None:
        self.folder = folder
        self.store = store
        self.identity = store.identity
        self._embedder = embedder

    @classmethod
    def open(
        cls,
        path: str | Path,
        embedder: Embedder | None = None,
        backend: str | None = None,
        *,
        create: bool = True,
        prefix_dim: int = DEFAULT_PREFIX_DIM,
    ) -> Index:
        """Open the index in ``path``, creating it (with ``embedder``'s model) if there is none.

        Args:
            path: the index folder.
            embedder: embeds documents and queries; must be the index's model. Optional for
                ``delete`` and ``stats``.
            backend: "lancedb" (default for new indexes) or "milvus"; an existing index keeps
                the backend it was created with.
            create: False to refuse a folder that holds no index.
            prefix_dim: width of the prefix vectors of a new index (first search stage).

        Raises:
            ModelMismatch: the index was built with another model, version or dimension.
            NotFound: no index there and ``create`` is False (or no embedder to create one).
            InvalidInput: unknown backend, or not the index's backend.
        """
        folder = Path(path)
        if backend is not None and backend not in BACKENDS:
            raise InvalidInput(f"unknown index backend {backend!r}; use one of: {', '.join(BACKENDS)}")
        identity = read_identity(folder)
        if identity is None:
            if not create or embedder is None:
                raise NotFound(
                    f"no omnivec index in {folder}; create one with `omnivec index add PATH --index {folder}`"
                )
            identity = _new_identity(embedder, backend or "lancedb", prefix_dim)
        elif backend is not None and backend != identity.backend:
            raise InvalidInput(f"the index in {folder} uses the {identity.backend} backend, not {backend}")
        if embedder is not None:
            info = embedder.info
            identity.check(info.name, info.version, info.dim, f"the embedder (model {info.name!r})")
        store = open_store(folder, identity)  # creates the tables if they are missing
        if read_identity(folder) is None:
            write_identity(folder, identity)
        return cls(folder, store, embedder)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            raise InvalidInput(
                f"this index was opened without an embedder; pass Embedder({self.identity.model!r})"
            )
        return self._embedder

    # -- writing ------------------------------------------------------------------------------
    def add(
        self,
        paths: Iterable[str | Path],
        progress: Callable[[IngestProgress], None] | None = None,
        *,
        batch_size: int = 16,
        policy: ChunkingPolicy | None = None,
    ) -> IngestReport:
        """Index files and folders: new and changed files are embedded, unchanged ones skipped,
        and indexed files that vanished from the folders given are removed.

        Args:
            paths: files and folders (walked recursively; hidden entries are skipped).
            progress: called as files are cut and chunks embedded.
            batch_size: chunks per model call.
            policy: how long inputs are chunked.

        Returns:
            Counts of files added, updated, skipped and removed, chunks written, and the files
            that failed (with the reason); a failed file does not stop the others.

        Raises:
            Unavailable: another process is writing to this index.
        """
        with writer_lock(self.folder):
            ingester = Ingester(self.store, self.embedder, policy, batch_size, progress)
            return ingester.run([Path(p) for p in paths])

    def delete(self, paths: Iterable[str | Path]) -> int:
        """Remove files (or everything under folders) from the index; return how many files.

        Raises:
            NotFound: nothing in the index is at or under the paths.
        """
        with writer_lock(self.folder):
            markers = self.store.list_files()
            chosen = sources_to_remove(markers, [Path(p) for p in paths])
            count = remove(self.store, [markers[s] for s in chosen])
            self.store.optimize()
            return count

    # -- reading ------------------------------------------------------------------------------
    def search(
        self,
        query: str | Path | Part | Embeddings,
        k: int = 10,
        modalities: Sequence[str] = (),
        path_glob: str | None = None,
        *,
        exact_search: bool = False,
    ) -> list[Hit]:
        """Find the chunks nearest a query.

        Args:
            query: text, a file (image, audio, video, PDF, text), a Part, or a query already
                embedded (with task RETRIEVAL_QUERY) by the index's model.
            k: how many hits.
            modalities: keep only these ("text", "image", "audio", "video", "pdf").
            path_glob: keep only sources matching this glob (see ``search.match_sources``).
            exact_search: skip the prefix stage and scan the full vectors (slow on big indexes).

        Returns:
            Hits, best first.

        Raises:
            ModelMismatch: ``query`` was embedded by another model.
            InvalidInput: bad query, unknown modality, or k < 1.
        """
        if k < 1:
            raise InvalidInput(f"k must be at least 1, not {k}")
        unknown = sorted(set(modalities) - set(MODALITIES))
        if unknown:
            raise InvalidInput(f"unknown modality {', '.join(unknown)}; use any of: {', '.join(MODALITIES)}")
        vector = self._query_vector(query)
        sources = match_sources(self.store.list_files(), path_glob) if path_glob else None
        filters = Filters(tuple(modalities), sources)
        if exact_search:
            return exact(self.store, vector, k, filters)
        return two_stage(self.store, vector, k, filters)

    def _query_vector(self, query: str | Path | Part | Embeddings) -> np.ndarray:
        if not isinstance(query, Embeddings):
            query = self.embedder.embed([_query_part(query)], task="RETRIEVAL_QUERY")
        self.identity.check(query.model, query.version, query.dim, "the query")
        if len(query) != 1:
            raise InvalidInput(f"search takes one query vector, not {len(query)}")
        return np.asarray(query.vectors[0], dtype=np.float32)

    def stats(self) -> IndexStats:
        files = self.store.list_files()
        by_modality: dict[str, int] = {}
        for record in files.values():
            by_modality[record.modality] = by_modality.get(record.modality, 0) + 1
        chunks = {m: self.store.count_chunks(Filters(modalities=(m,))) for m in sorted(by_modality)}
        i = self.identity
        return IndexStats(str(self.folder), i.backend, i.model, i.version, i.dim, i.prefix_dim, len(files),
                          self.store.count_chunks(), by_modality, chunks, self.store.ann_index())  # fmt: skip

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _new_identity(embedder: Embedder, backend: str, prefix_dim: int) -> IndexIdentity:
    info = embedder.info
    if not info.matryoshka and prefix_dim < info.dim:
        logger.warning("model %s is not Matryoshka-trained; prefix search will lose recall", info.name)
    if not 1 <= prefix_dim <= info.dim:
        raise InvalidInput(f"prefix_dim must be between 1 and {info.dim}, not {prefix_dim}")
    return IndexIdentity(info.name, info.version, info.dim, prefix_dim, backend)  # type: ignore[arg-type]


def _query_part(query: str | Path | Part) -> Any:
    """Text stays text; a file (Path or path Part) is read here, typed from its bytes."""
    from omnivec.media.sniff import verify_mime

    if isinstance(query, str):
        return query
    path = query if isinstance(query, Path) else query.path
    if path is None:
        return query
    if not path.is_file():
        raise NotFound(f"query file {path} does not exist")
    data = path.read_bytes()
    declared = query.mime_type if isinstance(query, Part) else None
    return Part.from_bytes(data, verify_mime(data, declared))
