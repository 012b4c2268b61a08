"""A local multimodal index: ingest folders of text, images, audio, video and PDFs, then search.

Long inputs are chunked with their provenance (pages, time ranges, character spans), vectors go
to an embedded LanceDB (or Milvus), and searches run in two Matryoshka stages: an approximate
search on a short prefix of each vector, then an exact rerank with the full vectors.

Example:
    >>> from omnivec import Embedder
    >>> from omnivec.index import Index
    >>> index = Index.open(".omnivec-index", Embedder("lite"))
    >>> report = index.add(["notes/", "talks/"])
    >>> for hit in index.search("the quarterly revenue slide", k=5):
    ...     print(hit.score, hit.source, hit.where(), hit.snippet())
"""

from __future__ import annotations

from omnivec.index.chunking import ChunkingPolicy
from omnivec.index.index import Index, IndexStats, default_folder
from omnivec.index.ingest import IngestError, IngestProgress, IngestReport
from omnivec.index.search import Hit
from omnivec.index.store import Chunk, FileRecord, IndexIdentity, VectorStore

__all__ = [
    "Chunk",
    "ChunkingPolicy",
    "FileRecord",
    "Hit",
    "Index",
    "IndexIdentity",
    "IndexStats",
    "IngestError",
    "IngestProgress",
    "IngestReport",
    "VectorStore",
    "default_folder",
]
