"""Derived tables of the lite model, computed once and cached on disk.

* the class table: one text-space vector per ImageNet class (the ConSE targets);
* the Matryoshka rotation: a fixed orthogonal matrix (PCA of MiniLM vectors of a text corpus)
  that puts the most informative directions first, leaving full-size dot products unchanged.

Cache files are keyed by a hash of the text encoder's weights and of the recipe, so changing
either recomputes them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

CLASS_PROMPT = "a photo of a {}."
LEMMAS_PER_CLASS = 3  # later WordNet lemmas are mostly Latin names that MiniLM knows poorly
TABLE_RECIPE = "classes-v1:" + CLASS_PROMPT + f":{LEMMAS_PER_CLASS}"
ROTATION_RECIPE = "rotation-v1:pca-centered-covariance"


def _data_lines(name: str) -> list[str]:
    text = resources.files("omnivec.data").joinpath(name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def imagenet_classes() -> list[tuple[str, list[str], str]]:
    """(synset, lemmas, definition) of the 1,000 classes, in the classifier's output order."""
    rows = []
    for line in _data_lines("imagenet_classes.tsv"):
        synset, lemmas, definition = line.split("\t")
        rows.append((synset, [x.strip() for x in lemmas.split(",") if x.strip()], definition))
    return rows


def class_names() -> list[str]:
    return [lemmas[0] for _, lemmas, _ in imagenet_classes()]


def class_prompts() -> tuple[list[str], list[int]]:
    """Prompt texts and, for each, the class it belongs to."""
    texts, owners = [], []
    for index, (_, lemmas, _) in enumerate(imagenet_classes()):
        for lemma in lemmas[:LEMMAS_PER_CLASS]:
            texts.append(CLASS_PROMPT.format(lemma))
            owners.append(index)
    return texts, owners


def rotation_corpus() -> list[str]:
    return _data_lines("rotation_corpus.txt")


def weights_key(path: Path, recipe: str) -> str:
    """16 hex digits naming (the file's bytes, recipe); each file is read once per process."""
    stat = path.stat()
    content = _file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return hashlib.sha256(f"{recipe}:{content}".encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:  # size and mtime: a rewritten file misses
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def text_key(weights_digest: str, recipe: str) -> str:
    """Cache key of a derived table: the weights' digest combined with the recipe that built it."""
    return hashlib.sha256(f"{weights_digest}:{recipe}".encode()).hexdigest()[:16]


def cached_array(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Load ``path`` or compute and save it atomically (a crash never leaves half a file)."""
    if path.exists():
        return np.load(path)
    logger.info("computing %s (once; cached on disk)", path.name)
    array = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
    with os.fdopen(fd, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)
    return array


def build_class_table(encode: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """(1000, D) unit vectors: each class is the mean of its lemma prompts, renormalized."""
    texts, owners = class_prompts()
    vectors = encode(texts)  # (P, D)
    table = np.zeros((1000, vectors.shape[1]), dtype=np.float32)
    np.add.at(table, np.asarray(owners), vectors)
    return (table / np.linalg.norm(table, axis=1, keepdims=True)).astype(np.float32)


def fit_rotation(vectors: np.ndarray) -> np.ndarray:
    """(D, D) orthogonal matrix whose columns are principal axes by decreasing variance."""
    centered = vectors - vectors.mean(axis=0, keepdims=True)
    cov = centered.T @ centered / len(vectors)  # (D, D)
    eigenvalues, eigenvectors = np.linalg.eigh(cov.astype(np.float64))
    order = np.argsort(eigenvalues)[::-1]
    basis = eigenvectors[:, order]
    # Fix each axis's sign so the rotation is reproducible across LAPACK builds.
    signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    return (basis * signs).astype(np.float32)
