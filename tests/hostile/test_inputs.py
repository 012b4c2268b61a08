"""Every accepted format, mutated: truncated, bytes flipped, emptied, mislabelled, swapped for another kind.

Each mutant goes through the library (a typed :class:`~omnivec.errors.InvalidInput`, or a
good vector when the damage left a decodable file), through the server (google.rpc status
JSON with code 400 on Gemini routes, the OpenAI error object on ``/v1/embeddings``, wall time
and RSS growth measured) and through ``omnivec batch run`` (an error row in place, good rows
intact). After each bad request the server must still return the library's vector.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.hostile.conftest import (
    EMBED,
    ENV,
    FORMATS,
    MEMORY_BOUND,
    MIMES,
    OMNIVEC,
    WRONG_KIND,
    Recorder,
    Sample,
    ServerProcess,
    assert_still_serving,
    measured,
    scale,
)

from omnivec import DecodeError, Embedder, InvalidInput, Part

FRACTIONS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


def truncations(data: bytes, n: int) -> list[int]:
    """``n`` cut offsets spread over the file: the header, the middle, the last bytes."""
    offsets = sorted({1, 8, *(int(len(data) * f) for f in FRACTIONS), len(data) - 1} - {0, len(data)})
    step = max(1, len(offsets) // n)
    return offsets[::step][:n]


def flipped(data: bytes, seed: int, n_bytes: int) -> bytes:
    """``n_bytes`` random bytes replaced (seeded), anywhere in the file."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(n_bytes):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def mutants(sample: Sample, samples: dict[str, Sample], n_cuts: int) -> list[tuple[str, bytes, str]]:
    """(input class, bytes, declared MIME type) for one format."""
    other = samples[WRONG_KIND[sample.name]]
    lying = MIMES[WRONG_KIND[sample.name]]  # this format's bytes, another format's type
    found = [("zero-length", b"", sample.mime), ("lying MIME", sample.data, lying),
             ("wrong kind", other.data, sample.mime)]  # fmt: skip
    found += [("truncated", sample.data[:cut], sample.mime) for cut in truncations(sample.data, n_cuts)]
    return found


def library_outcome(lite: Embedder, data: bytes, mime: str) -> str:
    """``ok`` (a finite unit vector) or the typed error's class name; anything else fails the test."""
    try:
        vectors = lite.embed(Part.from_bytes(data, mime)).vectors
    except InvalidInput as exc:
        assert exc.message and "\n" not in exc.message, exc.message
        return type(exc).__name__
    assert vectors.shape == (1, 384) and np.isfinite(vectors).all()
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-3
    return "ok"


# -- library ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_library_gives_typed_errors(fmt: str, samples: dict[str, Sample], lite: Embedder, record: Recorder) -> None:
    for label, data, mime in mutants(samples[fmt], samples, scale(2, 9)):
        start = time.perf_counter()
        outcome = library_outcome(lite, data, mime)
        record("input", route="library", format=fmt, input_class=label, outcome=outcome,
               seconds=time.perf_counter() - start)  # fmt: skip
        if label in ("zero-length", "lying MIME", "wrong kind"):
            assert outcome in ("DecodeError", "UnsupportedMedia"), (label, outcome)


@pytest.mark.parametrize("fmt", FORMATS)
def test_library_survives_random_byte_flips(fmt: str, samples: dict[str, Sample], lite: Embedder, record: Recorder) -> None:
    sample = samples[fmt]

    @settings(max_examples=scale(2, 40), derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(seed=st.integers(0, 2**32 - 1), n_bytes=st.integers(1, 16))
    def flips(seed: int, n_bytes: int) -> None:
        start = time.perf_counter()
        outcome = library_outcome(lite, flipped(sample.data, seed, n_bytes), sample.mime)
        record("input", route="library", format=fmt, input_class="byte flips", outcome=outcome,
               seconds=time.perf_counter() - start)  # fmt: skip

    flips()


# -- server -----------------------------------------------------------------------------------
def inline(data: bytes, mime: str) -> dict[str, Any]:
    return {"content": {"parts": [{"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}]}}


def check_gemini_error(status: int, body: dict[str, Any]) -> None:
    error = body["error"]
    assert set(error) >= {"code", "message", "status"} and error["code"] == status
    assert status == 400 and error["status"] == "INVALID_ARGUMENT", body
    assert error["message"] and "Traceback" not in error["message"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_server_answers_400_and_keeps_serving(
    fmt: str, samples: dict[str, Sample], server: ServerProcess, http: httpx.Client,
    good_vector: np.ndarray, record: Recorder,
) -> None:  # fmt: skip
    cases = mutants(samples[fmt], samples, scale(1, 9))
    cases += [("byte flips", flipped(samples[fmt].data, seed, 4), samples[fmt].mime) for seed in range(scale(1, 10))]
    for label, data, mime in cases:
        got = measured(server, lambda d=data, m=mime: http.post(EMBED, json=inline(d, m)))  # type: ignore[misc]
        record("input", route="gemini", format=fmt, input_class=label, outcome=got.status,
               seconds=got.seconds, rss_growth=got.rss_growth)  # fmt: skip
        if got.status != 200 or label in ("zero-length", "lying MIME", "wrong kind"):
            check_gemini_error(got.status, got.body)
        else:
            assert len(got.body["embedding"]["values"]) == 384
        assert got.rss_growth < MEMORY_BOUND
    assert_still_serving(http, server, good_vector)


@pytest.mark.parametrize("fmt", [f if f in ("png", "wav", "mp4", "pdf") else pytest.param(f, marks=pytest.mark.slow)
                                 for f in FORMATS if f != "text"])  # fmt: skip
def test_openai_route_answers_its_error_object(
    fmt: str, samples: dict[str, Sample], server: ServerProcess, http: httpx.Client,
    good_vector: np.ndarray, record: Recorder,
) -> None:  # fmt: skip
    sample = samples[fmt]
    for label, data in (("truncated", sample.data[: len(sample.data) // 3]), ("wrong kind", samples[WRONG_KIND[fmt]].data)):
        url = f"data:{sample.mime};base64,{base64.b64encode(data).decode()}"
        got = measured(server, lambda u=url: http.post("/v1/embeddings", json={"model": "lite", "input": u}))  # type: ignore[misc]
        record("input", route="openai", format=fmt, input_class=label, outcome=got.status,
               seconds=got.seconds, rss_growth=got.rss_growth)  # fmt: skip
        if label == "wrong kind" or got.status != 200:
            assert got.status == 400, got.body
            error = got.body["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert_still_serving(http, server, good_vector)


# -- batch ------------------------------------------------------------------------------------
def test_batch_run_gives_error_rows_in_place(samples: dict[str, Sample], lite: Embedder, tmp_path: Path, record: Recorder) -> None:
    lines: list[dict[str, Any]] = []
    for fmt in FORMATS:
        for label, data, mime in mutants(samples[fmt], samples, scale(1, 4))[:4]:
            lines.append({"id": f"{fmt}/{label}", **inline(data, mime)})
        lines.append({"id": f"good/{fmt}", "text": f"a good line after the {fmt} mutants"})
    source = tmp_path / "hostile.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "out.jsonl"
    run = subprocess.run([OMNIVEC, "batch", "run", str(source), str(out), "--chunk-size", "8"],
                         capture_output=True, text=True, env=ENV, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["key"] for r in rows] == [x["id"] for x in lines]  # every line once, in order
    for row, line in zip(rows, lines, strict=True):
        label = row["key"].split("/", 1)[1]
        if row["key"].startswith("good/"):
            np.testing.assert_allclose(row["values"], lite.embed(line["text"]).vectors[0], atol=1e-5)
        elif label in ("zero-length", "lying MIME", "wrong kind"):
            assert row["error"]["code"] == 400 and row["error"]["message"], row
        if row["key"].startswith("good/"):
            continue  # the control lines, checked above
        record("input", route="batch", format=row["key"].split("/")[0], input_class=label,
               outcome=row["error"]["code"] if "error" in row else 200, seconds=None)  # fmt: skip


def test_video_of_an_unknown_codec_is_a_decode_error(samples: dict[str, Sample], lite: Embedder) -> None:
    """Found by the byte flips: a codec tag FFmpeg cannot decode left no codec context (a 500)."""
    data = samples["mp4"].data
    tag = data.rfind(b"avc1")  # the sample entry of the video track (the first is in the ftyp brands)
    assert tag > 0
    with pytest.raises(DecodeError, match="codec cannot be decoded"):
        lite.embed(Part.from_bytes(data[:tag] + b"zzzz" + data[tag + 4 :], "video/mp4"))
