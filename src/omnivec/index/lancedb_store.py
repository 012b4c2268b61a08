"""The default backend: embedded LanceDB, one directory, no server.

Every write (add, delete, marker upsert) is one Lance commit: data files are written first and
the new table version is published atomically, so a process killed mid-write leaves the table
at its previous version. Searches scan (exact, brute force) until the table holds
``AnnConfig.min_rows`` chunks; ``optimize()`` then trains an IVF_RQ index (RaBitQ codes, 4 bits
per dimension) on the prefix column, adds new rows to it after each ingest, and retrains it
whenever the table has doubled. ``optimize()`` also writes the row cache
(:mod:`omnivec.index.rowcache`): a memory-mapped copy of the full vectors and records keyed by
stable row id, so a prefix search is one Lance query that returns only row ids and prefix
scores (its fixed cost, not the ANN scan, dominates: a second Lance read would double it).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.encoders.registry import require
from omnivec.errors import InvalidInput
from omnivec.index.rowcache import RowBatch, RowCache, newest
from omnivec.index.rowcache import write as write_row_cache
from omnivec.index.store import (
    CHUNK_COLUMNS,
    Candidates,
    Chunk,
    Column,
    FileRecord,
    Filters,
    IndexIdentity,
    chunk_to_row,
    file_to_row,
    row_to_chunk,
    row_to_file,
)

logger = logging.getLogger(__name__)

CHUNKS, FILES = "chunks", "files"
ROW_CACHE = "rowcache"  # folder of the row cache, beside the tables
COPY_BATCH = 16_384  # rows read at a time when the row cache is written
# Versions older than this are pruned by optimize(); readers re-check the latest version every
# READ_CONSISTENCY, so no reader still uses a version this old.
KEEP_VERSIONS = timedelta(minutes=1)
READ_CONSISTENCY = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class AnnConfig:
    """The ANN index on the prefix column (chosen with ``benchmarks/search.py``)."""

    min_rows: int = 50_000  # below this, searches scan every row (exact and fast enough)
    index_type: str = "IVF_RQ"  # IVF_RQ, IVF_FLAT, IVF_PQ, IVF_SQ or IVF_HNSW_SQ
    rows_per_partition: int = 4_096  # IVF lists: num_partitions = rows / this, at most 4,096
    rq_bits: int = 4  # IVF_RQ: bits per dimension of the RaBitQ codes (128-d, 4 bits -> 64 bytes)
    sub_vector_dims: int = 4  # IVF_PQ: one 8-bit code per this many dimensions (128-d -> 32 bytes)
    nprobes: int = 40  # IVF lists visited per query (~0.2 ms per 10 at 1M rows; recall@10 0.98 at 40)
    refine_factor: int | None = None  # quantized indexes: re-rank refine_factor * k hits exactly

    def partitions(self, rows: int) -> int:
        return max(1, min(4_096, math.ceil(rows / self.rows_per_partition)))

    def lance_index(self, rows: int, dim: int) -> Any:
        """The LanceDB index config object for ``rows`` vectors of width ``dim``."""
        index = require("lancedb.index", "lancedb")
        n = self.partitions(rows)
        sub_vectors = max(1, dim // self.sub_vector_dims)
        configs: dict[str, Callable[[], Any]] = {
            "IVF_PQ": lambda: index.IvfPq(distance_type="dot", num_partitions=n, num_sub_vectors=sub_vectors),
            "IVF_SQ": lambda: index.IvfSq(distance_type="dot", num_partitions=n),
            "IVF_RQ": lambda: index.IvfRq(distance_type="dot", num_partitions=n, num_bits=self.rq_bits),
            "IVF_FLAT": lambda: index.IvfFlat(distance_type="dot", num_partitions=n),
            "IVF_HNSW_SQ": lambda: index.HnswSq(distance_type="dot", num_partitions=n),
        }
        if self.index_type not in configs:
            raise InvalidInput(
                f"unknown ANN index type {self.index_type!r}; use one of: {', '.join(configs)}"
            )
        return configs[self.index_type]()


def _sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(_sql(v) for v in values)})"


def where(filters: Filters) -> str | None:
    """SQL for Lance's filter; None when nothing is filtered."""
    clauses = []
    if filters.modalities:
        clauses.append(_in("modality", filters.modalities))
    if filters.sources is not None:
        clauses.append(_in("source", filters.sources))
    return " AND ".join(clauses) or None


class LanceStore:
    """:class:`~omnivec.index.store.VectorStore` on LanceDB tables in ``folder``."""

    def __init__(self, folder: Path, identity: IndexIdentity, ann: AnnConfig | None = None) -> None:
        lancedb = require("lancedb", "lancedb")
        self.identity = identity
        self.ann = ann or AnnConfig()
        self._pa = require("pyarrow", "pyarrow")
        # Stable row ids survive compaction, so a row id from search() still names its row in fetch().
        options = {"new_table_enable_stable_row_ids": "true"}
        session = lancedb.Session()  # one cache of index and metadata for both connections
        self._db = lancedb.connect(
            str(folder), read_consistency_interval=READ_CONSISTENCY, storage_options=options, session=session
        )
        self._chunks = self._db.create_table(CHUNKS, schema=self._chunk_schema(), exist_ok=True)
        self._files = self._db.create_table(FILES, schema=self._file_schema(), exist_ok=True)
        # Searches go through LanceDB's async API, run on the event loop its sync API uses: one
        # hop to that loop per search, where the sync query builder makes five (two schema reads,
        # the query, two batch reads), which cost ~0.8 ms a search at 1M rows on 2 cores.
        self._loop = require("lancedb.background_loop", "lancedb").LOOP
        reader = self._loop.run(
            lancedb.connect_async(str(folder), read_consistency_interval=READ_CONSISTENCY, session=session)
        )
        self._reader = self._loop.run(reader.open_table(CHUNKS))
        self._indexed: set[str] = set()  # vector columns with an ANN index (refresh_indexes)
        self._trained_on = 0  # rows the prefix index was trained on
        self.refresh_indexes()
        self._cache_root = folder / ROW_CACHE
        self._cache_refused: int | None = None  # inode of a copy that did not match the table
        self._cache_checked = time.monotonic()  # when newer copies were last looked for
        self._cache = self._open_cache()

    # -- schemas ------------------------------------------------------------------------------
    def _chunk_schema(self) -> Any:
        pa = self._pa
        fields = [pa.field(name, pa.string(), nullable=False) for name in CHUNK_COLUMNS]
        fields.append(pa.field("vector", pa.list_(pa.float32(), self.identity.dim), nullable=False))
        fields.append(pa.field("prefix", pa.list_(pa.float32(), self.identity.prefix_dim), nullable=False))
        return pa.schema(fields)

    def _file_schema(self) -> Any:
        pa = self._pa
        return pa.schema([
            pa.field("source", pa.string(), nullable=False), pa.field("content_hash", pa.string(), nullable=False),
            pa.field("mtime", pa.float64(), nullable=False), pa.field("size", pa.int64(), nullable=False),
            pa.field("modality", pa.string(), nullable=False), pa.field("chunks", pa.int64(), nullable=False),
            pa.field("state", pa.string(), nullable=False),
        ])  # fmt: skip

    # -- files --------------------------------------------------------------------------------
    def list_files(self) -> dict[str, FileRecord]:
        rows = self._files.to_arrow().to_pylist()
        return {r["source"]: row_to_file(r) for r in rows}

    def put_files(self, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        table = self._pa.Table.from_pylist([file_to_row(r) for r in records], schema=self._file_schema())
        (
            self._files.merge_insert("source")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(table)
        )

    def delete_files(self, sources: Sequence[str]) -> None:
        if sources:
            self._files.delete(_in("source", sources))

    # -- chunks -------------------------------------------------------------------------------
    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray, prefixes: np.ndarray) -> None:
        if not chunks:
            return
        pa = self._pa
        columns: dict[str, Any] = {name: [] for name in CHUNK_COLUMNS}
        for chunk in chunks:
            for name, value in chunk_to_row(chunk).items():
                columns[name].append(value)
        schema = self._chunk_schema()
        arrays = [pa.array(columns[name], type=pa.string()) for name in CHUNK_COLUMNS]
        arrays.append(_fixed_list(pa, vectors, self.identity.dim))
        arrays.append(_fixed_list(pa, prefixes, self.identity.prefix_dim))
        self._chunks.add(pa.Table.from_arrays(arrays, schema=schema))
        self._see_writes()

    def delete_chunks(self, sources: Sequence[str]) -> None:
        if sources:
            self._chunks.delete(_in("source", sources))
            self._see_writes()

    def list_chunks(self, sources: Sequence[str] | None = None) -> list[Chunk]:
        query = self._chunks.search().select(["record"]).limit(None)
        if sources is not None:
            if not sources:
                return []
            query = query.where(_in("source", sources))
        return [row_to_chunk(r) for r in query.to_arrow().to_pylist()]

    def count_chunks(self, filters: Filters | None = None) -> int:
        clause = where(filters) if filters else None
        if filters is not None and filters.sources == ():
            return 0
        return int(self._chunks.count_rows(clause))

    def search(self, query: np.ndarray, column: Column, k: int, filters: Filters) -> Candidates:
        if filters.sources == () or k <= 0:
            return Candidates.empty(self.identity.dim)
        if column == "vector":  # exact search: vectors and records read in the scan's pass
            table = self._query(query, column, k, filters, ["vector", "record", "_distance"])
            records = table.column("record").to_pylist()
            return Candidates(
                tuple(table.column("_rowid").to_pylist()), _matrix(table.column("vector"), self.identity.dim),
                _scores(table), lambda i: {"record": records[i]},
            )  # fmt: skip
        # Prefix search: Lance returns row ids and scores only; vectors and records come from the
        # row cache, and from the table only for rows the cache does not hold (yet).
        table = self._query(query, column, k, filters, ["_distance"])
        ids = table.column("_rowid").to_numpy().astype(np.int64)  # uint64 would make searchsorted copy the keys
        vectors, record, live = self._rows(ids)
        keep = np.flatnonzero(live)  # (C',) candidates still in the table
        return Candidates(
            tuple(ids[keep].tolist()),
            vectors[keep],
            _scores(table)[keep],
            lambda i: {"record": record(int(keep[i]))},
        )

    def _query(self, query: np.ndarray, column: Column, k: int, filters: Filters, columns: list[str]) -> Any:
        """The ``k`` nearest rows in ``column`` with their ``_rowid`` and ``columns``, as Arrow."""
        search = (
            self._reader.query()
            .nearest_to(np.asarray(query, dtype=np.float32))
            .column(column)
            .distance_type("dot")
            .select(columns)
            .with_row_id()
            .limit(k)
        )
        if column in self._indexed:
            search = search.nprobes(self.ann.nprobes)
            if self.ann.refine_factor:
                search = search.refine_factor(self.ann.refine_factor)
        if (clause := where(filters)) is not None:
            search = search.where(clause)  # a prefilter: the async API's default
        return self._loop.run(search.to_arrow())

    def _rows(self, ids: np.ndarray) -> tuple[np.ndarray, Callable[[int], str], np.ndarray]:
        """(C,) row ids -> their (C, dim) full vectors, i -> the record of row ids[i], and a (C,)
        mask of the rows found (a row deleted between the ANN query and its read is not)."""
        cache = self._cache
        positions = cache.positions(ids) if cache is not None else np.full(len(ids), -1)
        # A writer may have published a newer copy: look when rows are missing, and every
        # READ_CONSISTENCY anyway (so that an old copy the writer deleted is let go of).
        due = time.monotonic() - self._cache_checked > READ_CONSISTENCY.total_seconds()
        if ((positions < 0).any() or due) and self._reload_cache():
            cache = self._cache
            positions = cache.positions(ids) if cache is not None else np.full(len(ids), -1)
        vectors = np.zeros((len(ids), self.identity.dim), dtype=np.float32)
        found = positions >= 0
        if cache is not None and found.any():
            vectors[found] = cache.vectors[positions[found]]  # (H, dim) gathered from the map
        read: dict[int, str] = {}
        if not found.all():
            batch = self._read_rows(ids[~found].tolist())
            index = {row_id: j for j, row_id in enumerate(batch.ids.tolist())}
            for i in np.flatnonzero(~found):
                if (j := index.get(int(ids[i]))) is not None:
                    vectors[i] = batch.vectors[j]
                    read[int(i)] = batch.records[j]
                    found[i] = True

        def record(i: int) -> str:
            if i in read or cache is None:
                return read[i]
            return cache.record(int(positions[i]))

        return vectors, record, found

    def _read_rows(self, ids: list[int]) -> RowBatch:
        """The rows of these ids that the table holds (deleted ones are left out)."""
        take = self._reader.take_row_ids(ids).select(["vector", "record"]).with_row_id()
        table = self._loop.run(take.to_arrow())
        return RowBatch(
            table.column("_rowid").to_numpy().astype(np.int64), _matrix(table.column("vector"), self.identity.dim),
            table.column("record").to_pylist(),
        )  # fmt: skip

    def fetch(self, keys: Sequence[Any]) -> list[Chunk | None]:
        if not keys:
            return []
        table = self._chunks.take_row_ids(list(keys)).select(["record"]).with_row_id().to_arrow()
        found = dict(zip(table.column("_rowid").to_pylist(), table.column("record").to_pylist(), strict=True))
        return [row_to_chunk({"record": found[key]}) if key in found else None for key in keys]

    # -- row cache ----------------------------------------------------------------------------
    def _open_cache(self) -> RowCache | None:
        """The newest row cache, if it is verified against the table (else None: searches read
        the table until the next ``optimize()`` writes a new cache)."""
        cache = RowCache.open(self._cache_root, self.identity.dim)
        if cache is None:
            return None
        sample_ids, _ = cache.sample()
        sampled = self._read_rows(sample_ids.tolist()) if len(sample_ids) else RowBatch(
            sample_ids, np.zeros((0, self.identity.dim), np.float32), []
        )  # fmt: skip
        if cache.verify(sampled):
            return cache
        self._cache_refused = _inode(cache.folder)  # not checked again: searches read the table until optimize()
        return None

    def _reload_cache(self) -> bool:
        """Open a newer row cache if one was published since; True if the cache changed."""
        self._cache_checked = time.monotonic()
        found = _inode(newest(self._cache_root))
        if found in (_inode(self._cache.folder if self._cache is not None else None), self._cache_refused):
            return False  # (a copy rewritten under the same name is a new inode)
        self._cache = self._open_cache()
        return True

    @property
    def row_cache(self) -> RowCache | None:
        """The row cache searches use (None: they read every candidate from the table)."""
        return self._cache

    def needs_optimize(self) -> bool:
        return self._cache is None or self._cache.table_version != self._chunks.version

    def write_row_cache(self) -> None:
        """Write a new row cache of the table as it is now (see rowcache). A full copy: copying
        the rows the old cache holds from it instead took as long at 1M rows (~12 s, most of it
        writing and syncing 1.5 GB)."""
        version, rows = self._chunks.version, self._chunks.count_rows()
        if self._cache is not None and self._cache.table_version == version:
            return
        scan = self._chunks.search().select(["vector", "record"]).with_row_id(True).limit(None)
        batches = (
            RowBatch(b.column("_rowid").to_numpy().astype(np.int64), _matrix(b.column("vector"), self.identity.dim),
                     b.column("record").to_pylist())
            for b in scan.to_batches(COPY_BATCH)
        )  # fmt: skip
        write_row_cache(self._cache_root, version, rows, self.identity.dim, batches)
        self._cache = self._open_cache()

    # -- maintenance --------------------------------------------------------------------------
    def _see_writes(self) -> None:
        """Move the search connection to the table's latest version, so that this process's
        searches see its own writes at once (other processes' within ``READ_CONSISTENCY``)."""
        self._loop.run(self._reader.checkout_latest())

    def refresh_indexes(self) -> None:
        """Re-read which columns have an ANN index (another process may have built one)."""
        self._see_writes()
        indexes = list(self._chunks.list_indices())
        self._indexed = {column for index in indexes for column in index.columns}
        self._trained_on = max(
            (_trained_rows(index.name) for index in indexes if "prefix" in index.columns), default=0
        )

    def ann_index(self) -> str | None:
        self.refresh_indexes()
        if "prefix" not in self._indexed:
            return None
        return f"{self.ann.index_type} on prefix (trained on {self._trained_on:,} rows)"

    def optimize(self) -> None:
        """Compact, prune old versions, add new rows to the ANN index; (re)train the index when
        the table first reaches ``min_rows`` and whenever it has doubled since the last training
        (new rows join the old partitions, which then grow too long to probe cheaply)."""
        self._chunks.optimize(cleanup_older_than=KEEP_VERSIONS)
        self._files.optimize(cleanup_older_than=KEEP_VERSIONS)
        rows = self._chunks.count_rows()
        self.refresh_indexes()
        if rows >= self.ann.min_rows and rows >= 2 * self._trained_on:
            self.build_ann_index(rows)
        self.write_row_cache()

    def build_ann_index(self, rows: int) -> None:
        logger.info("building %s on %d prefix vectors", self.ann.index_type, rows)
        config = self.ann.lance_index(rows, self.identity.prefix_dim)
        for index in self._chunks.list_indices():  # replace=True keys on the name, which records the size
            if "prefix" in index.columns:
                self._chunks.drop_index(index.name)
        self._chunks.create_index("prefix", config=config, name=f"prefix_ann_trained_on_{rows}")
        self.refresh_indexes()

    def close(self) -> None:
        """Nothing to release: every LanceDB write is already committed."""


def _inode(folder: Path | None) -> int | None:
    """What names a published row cache (None if there is none, or it was just deleted)."""
    try:
        return None if folder is None else folder.stat().st_ino
    except FileNotFoundError:
        return None


def _trained_rows(name: str) -> int:
    """Rows an index was trained on, from the name build_ann_index gives it (0 if unknown)."""
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _scores(table: Any) -> np.ndarray:
    """Lance's "dot" distance is 1 - dot: (C,) dot products."""
    return (1.0 - table.column("_distance").to_numpy()).astype(np.float32)


def _matrix(column: Any, width: int) -> np.ndarray:
    """An Arrow fixed-size-list column or array -> (N, width) float32."""
    if hasattr(column, "combine_chunks"):  # a table's column is chunked, a batch's is not
        column = column.combine_chunks()
    flat = column.flatten().to_numpy(zero_copy_only=False)  # flatten() honours a slice's offset
    return flat.reshape(-1, width).astype(np.float32, copy=False)  # (N * width,) -> (N, width)


def _fixed_list(pa: Any, matrix: np.ndarray, width: int) -> Any:
    """(N, width) float32 -> an Arrow fixed-size-list column, without a Python loop."""
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, width)
