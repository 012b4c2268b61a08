"""The second backend: Milvus through ``pymilvus`` (tested against ``milvus-lite``, a local file).

``uri`` is a local path (``<index>/milvus.db``, served in-process by milvus-lite) or a server
address (``http://host:19530``). Two collections mirror LanceDB's tables; Milvus requires a
vector field in every collection, so ``files`` carries a constant 2-d placeholder. Writes are
upserts keyed by the chunk id or the source, so a write repeated after a crash never duplicates
rows. The prefix column gets an HNSW index from the start (Milvus builds it per segment as data
arrives); the full vectors get a FLAT index, as they are only read back for the exact rerank.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from omnivec.encoders.registry import require
from omnivec.index.store import (
    CHUNK_COLUMNS,
    MAX_RECORD_BYTES,
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
PAGE = 4_096  # rows per query page (a Milvus server refuses offset + limit above 16,384)
MAX_PATH = 4_096  # bytes of a source path (VARCHAR length)
HNSW = {"M": 16, "efConstruction": 200}
HNSW_EF_MIN = 64  # search breadth; raised to k when k is larger


def literal(value: str) -> str:
    """A Milvus filter string literal (C-style escapes) for ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _in(field: str, values: Sequence[str]) -> str:
    return f"{field} in [{', '.join(literal(v) for v in values)}]"


def expression(filters: Filters) -> str:
    """A Milvus boolean expression for ``filters`` ("" when nothing is filtered)."""
    clauses = []
    if filters.modalities:
        clauses.append(_in("modality", filters.modalities))
    if filters.sources is not None:
        clauses.append(_in("source", filters.sources))
    return " and ".join(clauses)


class MilvusStore:
    """:class:`~omnivec.index.store.VectorStore` on two Milvus collections."""

    def __init__(self, uri: str, identity: IndexIdentity) -> None:
        pymilvus = require("pymilvus", "pymilvus milvus-lite")
        self.identity = identity
        self._pm = pymilvus
        self._uri = uri
        self._client = pymilvus.MilvusClient(uri)
        self._ensure(CHUNKS, self._chunk_schema(), self._chunk_indexes())
        self._ensure(FILES, self._file_schema(), self._file_indexes())

    # -- schemas ------------------------------------------------------------------------------
    def _chunk_schema(self) -> Any:
        dt = self._pm.DataType
        schema = self._pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", dt.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("source", dt.VARCHAR, max_length=MAX_PATH)
        schema.add_field("modality", dt.VARCHAR, max_length=16)
        schema.add_field("content_hash", dt.VARCHAR, max_length=64)
        schema.add_field("record", dt.VARCHAR, max_length=MAX_RECORD_BYTES)
        schema.add_field("vector", dt.FLOAT_VECTOR, dim=self.identity.dim)
        schema.add_field("prefix", dt.FLOAT_VECTOR, dim=self.identity.prefix_dim)
        return schema

    def _chunk_indexes(self) -> Any:
        params = self._client.prepare_index_params()
        params.add_index(field_name="prefix", index_type="HNSW", metric_type="IP", params=HNSW)
        params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        return params

    def _file_schema(self) -> Any:
        dt = self._pm.DataType
        schema = self._pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("source", dt.VARCHAR, is_primary=True, max_length=MAX_PATH)
        for name in ("content_hash", "modality", "state"):
            schema.add_field(name, dt.VARCHAR, max_length=128)
        schema.add_field("mtime", dt.DOUBLE)
        schema.add_field("size", dt.INT64)
        schema.add_field("chunks", dt.INT64)
        schema.add_field("placeholder", dt.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        return schema

    def _file_indexes(self) -> Any:
        params = self._client.prepare_index_params()
        params.add_index(field_name="placeholder", index_type="FLAT", metric_type="L2")
        return params

    def _ensure(self, name: str, schema: Any, indexes: Any) -> None:
        if not self._client.has_collection(name):
            self._client.create_collection(name, schema=schema, index_params=indexes)
        self._client.load_collection(name)

    def _query(self, collection: str, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every row matching ``expr``, page by page."""
        offset = 0
        while True:
            rows = self._client.query(
                collection, filter=expr, output_fields=fields, limit=PAGE, offset=offset
            )
            yield from rows
            if len(rows) < PAGE:
                return
            offset += PAGE

    # -- files --------------------------------------------------------------------------------
    def list_files(self) -> dict[str, FileRecord]:
        fields = ["source", "content_hash", "mtime", "size", "modality", "chunks", "state"]
        return {r["source"]: row_to_file(r) for r in self._query(FILES, "", fields)}

    def put_files(self, records: Sequence[FileRecord]) -> None:
        if records:
            self._client.upsert(FILES, [{**file_to_row(r), "placeholder": [0.0, 0.0]} for r in records])

    def delete_files(self, sources: Sequence[str]) -> None:
        if sources:
            self._client.delete(FILES, filter=_in("source", sources))

    # -- chunks -------------------------------------------------------------------------------
    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray, prefixes: np.ndarray) -> None:
        if not chunks:
            return
        rows = [
            {**chunk_to_row(c), "vector": v.tolist(), "prefix": p.tolist()}
            for c, v, p in zip(
                chunks, np.asarray(vectors, np.float32), np.asarray(prefixes, np.float32), strict=True
            )
        ]
        self._client.upsert(CHUNKS, rows)

    def delete_chunks(self, sources: Sequence[str]) -> None:
        if sources:
            self._client.delete(CHUNKS, filter=_in("source", sources))

    def list_chunks(self, sources: Sequence[str] | None = None) -> list[Chunk]:
        if sources is not None and not sources:
            return []
        expr = _in("source", sources) if sources is not None else ""
        return [row_to_chunk(r) for r in self._query(CHUNKS, expr, ["record"])]

    def count_chunks(self, filters: Filters | None = None) -> int:
        if filters is not None and filters.sources == ():
            return 0
        expr = expression(filters) if filters else ""
        rows = self._client.query(CHUNKS, filter=expr, output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def search(self, query: np.ndarray, column: Column, k: int, filters: Filters) -> Candidates:
        if filters.sources == () or k <= 0:
            return Candidates.empty(self.identity.dim)
        params: dict[str, Any] = {"metric_type": "IP"}
        if column == "prefix":
            params["params"] = {"ef": max(k, HNSW_EF_MIN)}
        hits = self._client.search(
            CHUNKS, data=[np.asarray(query, np.float32).tolist()], anns_field=column, limit=k,
            filter=expression(filters), output_fields=["vector"], search_params=params,
        )[0]  # fmt: skip
        if not len(hits):
            return Candidates.empty(self.identity.dim)
        vectors = np.asarray([hit["entity"]["vector"] for hit in hits], dtype=np.float32)  # (C, dim)
        scores = np.asarray([hit["distance"] for hit in hits], dtype=np.float32)  # IP: the dot product
        return Candidates(tuple(hit["id"] for hit in hits), vectors, scores)

    def fetch(self, keys: Sequence[Any]) -> list[Chunk | None]:
        if not keys:
            return []
        rows = self._client.get(CHUNKS, ids=list(keys), output_fields=list(CHUNK_COLUMNS))
        found = {row["id"]: row for row in rows}
        return [row_to_chunk(found[key]) if key in found else None for key in keys]

    # -- maintenance --------------------------------------------------------------------------
    def ann_index(self) -> str | None:
        return f"HNSW on prefix (M={HNSW['M']})"

    def optimize(self) -> None:
        """Milvus compacts segments and indexes new data on its own."""

    def needs_optimize(self) -> bool:
        return False

    def close(self) -> None:
        """Close the client; for a local milvus-lite file also stop its in-process server, which
        holds an exclusive lock on the folder that would keep other processes out."""
        self._client.close()
        if "://" not in self._uri:
            manager = require("milvus_lite.server_manager", "milvus-lite").server_manager_instance
            manager.release_server(self._uri)
