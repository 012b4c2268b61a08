from __future__ import annotations

import multiprocessing
from typing import Any

import numpy as np
import pytest

from omnivec.encoders.minilm import OVERLAP, WINDOW, MiniLMEncoder, default_weights, windows


def test_windows_cover_every_token_with_overlap() -> None:
    ids = list(range(1000))
    wins = windows(ids)
    assert all(len(w) <= WINDOW for w in wins)
    assert wins[0][0] == 0 and wins[-1][-1] == 999
    assert set().union(*map(set, wins)) == set(ids)
    assert len(set(wins[0]) & set(wins[1])) == OVERLAP
    assert windows([1, 2, 3]) == [[1, 2, 3]]
    assert windows([]) == [[]]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_matches_sentence_transformers(encoder: MiniLMEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    texts = ["a cat on a sofa", "The stock market fell sharply on Monday after the report.", "x " * 100]
    reference = SentenceTransformer(str(default_weights()), device="cpu").encode(texts, normalize_embeddings=True)
    ours = encoder.encode(texts)
    assert ours.shape == (3, 384)
    np.testing.assert_allclose((ours * reference).sum(1), 1.0, atol=1e-5)


def test_long_text_is_windowed_not_cut(encoder: MiniLMEncoder) -> None:
    head = "The lighthouse keeper wrote letters every evening. " * 30  # ~300 word pieces
    tail = "Volcanic eruptions reshape the island's coastline and soil chemistry. " * 30
    long_vec, head_vec, tail_vec = encoder.encode([head + tail, head, tail])
    # A text cut at 256 pieces would equal the head alone; windowing keeps the tail's meaning.
    assert float(long_vec @ tail_vec) > 0.5
    assert float(long_vec @ head_vec) < 0.99


def test_batched_equals_single(encoder: MiniLMEncoder) -> None:
    texts = ["short", "a somewhat longer sentence about rivers and mountains", "mid length text here"]
    batched = encoder.encode(texts)
    singles = np.stack([encoder.encode([t])[0] for t in texts])
    np.testing.assert_allclose(batched, singles, atol=1e-5)


SENTENCES = [
    "The river flooded the valley after three days of rain.",
    "Quarterly revenue grew by twelve percent in March.",
    "She plays the violin in the city orchestra.",
    "How do glaciers carve valleys?",
    "A recipe for sourdough bread with a crisp crust.",
    "The senate passed the budget bill late on Friday night after a long debate over tariffs.",
]


@pytest.mark.parametrize(("runtime", "min_mean_cosine"), [("onnx-fp32", 0.9999), ("onnx-int8", 0.99)])
def test_onnx_runtimes_pass_the_quality_gate(encoder: MiniLMEncoder, runtime: str, min_mean_cosine: float) -> None:
    fast = MiniLMEncoder(runtime=runtime)
    reference = encoder.encode(SENTENCES)
    cosines = (fast.encode(SENTENCES) * reference).sum(1)
    assert cosines.mean() >= min_mean_cosine, cosines


@pytest.mark.parametrize("runtime", ["onnx-fp32", "onnx-int8"])
def test_onnx_workers_give_batch_independent_vectors(runtime: str) -> None:
    # Windows run concurrently on one worker thread per core: each text's vector must not
    # depend on its batch mates, on the number of workers, or on the order the runs finish.
    texts = [f"{s} Number {i}." * (1 + i % 4) for i, s in enumerate(SENTENCES * 6)]
    parallel, serial = MiniLMEncoder(runtime=runtime, threads=2), MiniLMEncoder(runtime=runtime, threads=1)
    batched = parallel.encode(texts)
    singles = np.stack([serial.encode([t])[0] for t in texts])
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    if runtime == "onnx-int8":  # one window per run: the very same arithmetic
        np.testing.assert_array_equal(batched, singles)


def _encode_in_child(encoder: MiniLMEncoder, texts: list[str], queue: Any) -> None:
    queue.put(encoder.encode(texts))


def test_onnx_workers_restart_in_a_forked_child() -> None:
    # A forked process (a batch worker) inherits the encoder but not its worker threads.
    encoder = MiniLMEncoder(runtime="onnx-int8", threads=2)
    expected = encoder.encode(SENTENCES)  # starts the pool in the parent
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_encode_in_child, args=(encoder, SENTENCES, queue))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, expected)


def test_word_pieces_match_transformers_tokenizer(encoder: MiniLMEncoder) -> None:
    # The encoder tokenizes with `tokenizers` alone (no transformers import on the ONNX path).
    texts = [*SENTENCES, "Crème brûlée à l'ancienne, naïve café", "日本語のテキスト", " tabs\tand\nnewlines ", "", "🎉 $3.14"]
    expected = encoder.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    assert encoder.tokenize(texts) == [list(ids) for ids in expected]
