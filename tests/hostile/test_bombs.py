"""Bombs: small inputs that declare huge work, and huge inputs. Each is refused with a clear
400/413 (or embedded, when it is harmless), within bounded memory, and the server keeps serving.

Decoder-level checks of the same guards live in ``tests/unit/media``; here each bomb goes
through the real server process, whose RSS is measured around the request.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import struct
import wave
import zlib
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.hostile.conftest import (
    EMBED,
    MEMORY_BOUND,
    Recorder,
    ServerProcess,
    assert_still_serving,
    measured,
    scale,
)

from omnivec import Embedder, InvalidInput, LimitExceeded, Part
from omnivec.encoders.minilm import min_tokens


# -- builders ---------------------------------------------------------------------------------
def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header (valid CRCs) declaring ``width`` x ``height`` RGB, tiny body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")


@functools.cache
def png_zlib_bomb() -> bytes:
    """A 12000 x 12000 grey PNG: ~420 KB on disk, 432 MB of pixels once inflated (built row by row)."""
    deflate, row = zlib.compressobj(6), b"\x00" + b"\x80" * 12000 * 3
    rows = b"".join(deflate.compress(row) for _ in range(12000)) + deflate.flush()
    ihdr = struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def jpeg_claiming(photo: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 header is rewritten to declare ``width`` x ``height``."""
    sof = photo.find(b"\xff\xc0")
    assert sof > 0
    return photo[: sof + 5] + struct.pack(">HH", height, width) + photo[sof + 9 :]


def wav_claiming_rate(rate: int, n_samples: int = 16000) -> bytes:
    """A valid mono 16-bit WAV of ``n_samples`` at ``rate`` Hz (1 Hz makes hours of audio)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.zeros(n_samples, "<i2").tobytes())
    return buf.getvalue()


def video_at(rate: Fraction, frames: int) -> bytes:
    """An MP4 of ``frames`` small frames at ``rate`` frames per second (absurdly slow or fast)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40 % 255, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


def pdf_pages(n: int) -> bytes:
    pdf = FPDF()
    for _ in range(n):
        pdf.add_page()
    return bytes(pdf.output())


def pdf_page_points(width: float, height: float) -> bytes:
    """One page with a MediaBox of ``width`` x ``height`` points, written by hand (fpdf2 caps sizes)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] >>" % (width, height)]  # fmt: skip
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def inline(data: bytes, mime: str) -> dict[str, Any]:
    return {"content": {"parts": [{"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}]}}


@pytest.fixture(scope="module")
def jpeg_bytes(photos: dict[str, Image.Image]) -> bytes:
    buf = io.BytesIO()
    photos["chelsea"].resize((64, 48)).save(buf, "JPEG")
    return buf.getvalue()


MEDIA_BOMBS: dict[str, tuple[Callable[[bytes], bytes], str, str]] = {
    # name: (builder from a small JPEG, MIME type, fragment of the expected message)
    "PNG declaring 100000 x 100000": (lambda _: png_claiming(100_000, 100_000), "image/png", "pixels"),
    "PNG declaring 2^31 x 2^31": (lambda _: png_claiming(2**31 - 1, 2**31 - 1), "image/png", ""),
    "PNG zlib bomb, 12000 x 12000": (lambda _: png_zlib_bomb(), "image/png", "pixels"),
    "JPEG declaring 65535 x 65535": (lambda j: jpeg_claiming(j, 65535, 65535), "image/jpeg", "pixels"),
    "PDF of 5000 pages": (lambda _: pdf_pages(5000), "application/pdf", "5000 pages"),
    "PDF page of 1e5 x 1e5 points": (lambda _: pdf_page_points(1e5, 1e5), "application/pdf", "points"),
    "WAV at 1 Hz (4.4 hours)": (lambda _: wav_claiming_rate(1), "audio/wav", "the limit is 80 s"),
    "MP4 at 1 frame per hour": (lambda _: video_at(Fraction(1, 3600), 3), "video/mp4", "the limit is"),
    "MP4 at 60000 fps": (lambda _: video_at(Fraction(60_000), 50), "video/mp4", "fps"),
}


@pytest.mark.parametrize("name", MEDIA_BOMBS)
def test_media_bombs_are_refused_in_bounded_memory(
    name: str, jpeg_bytes: bytes, server: ServerProcess, http: httpx.Client, good_vector: np.ndarray,
    record: Recorder,
) -> None:  # fmt: skip
    build, mime, fragment = MEDIA_BOMBS[name]
    data = build(jpeg_bytes)
    got = measured(server, lambda: http.post(EMBED, json=inline(data, mime)))
    record("bomb", route="gemini", name=name, bytes=len(data), outcome=got.status, seconds=got.seconds,
           rss_growth=got.rss_growth, message=got.body.get("error", {}).get("message", ""))  # fmt: skip
    assert got.status == 400, got.body
    assert got.body["error"]["status"] == "INVALID_ARGUMENT" and fragment in got.body["error"]["message"]
    assert got.rss_growth < MEMORY_BOUND
    assert_still_serving(http, server, good_vector)


def test_media_bombs_are_typed_errors_in_the_library(jpeg_bytes: bytes, lite: Embedder) -> None:
    for name, (build, mime, fragment) in MEDIA_BOMBS.items():
        with pytest.raises(InvalidInput, match=fragment or None) as caught:
            lite.embed(Part.from_bytes(build(jpeg_bytes), mime))
        assert isinstance(caught.value, LimitExceeded) or not fragment, (name, caught.value)


def test_sliver_image_is_embedded(lite: Embedder) -> None:
    """A 20000 x 8 image (a corrupt header can declare one) used to crash OCR with a 500."""
    buf = io.BytesIO()
    Image.new("RGB", (20_000, 8), "white").save(buf, "PNG")
    vectors = lite.embed(Part.from_bytes(buf.getvalue(), "image/png")).vectors
    assert vectors.shape == (1, 384) and np.isfinite(vectors).all()


# -- JSON and body bombs ----------------------------------------------------------------------
def text_body(text: str) -> dict[str, Any]:
    return {"content": {"parts": [{"text": text}]}}


def test_deeply_nested_json_is_400(server: ServerProcess, http: httpx.Client, good_vector: np.ndarray, record: Recorder) -> None:
    for depth in (1_000, 100_000):
        raw = b'{"content": {"parts": [{"text": "x"}]}, "extra": ' + b"[" * depth + b"]" * depth + b"}"
        for route, body in ((EMBED, raw), ("/v1/embeddings", raw.replace(b'"content": {"parts": [{"text": "x"}]}', b'"model": "lite", "input": "x"'))):
            got = measured(server, lambda r=route, b=body: http.post(r, content=b, headers={"content-type": "application/json"}))  # type: ignore[misc]
            record("bomb", route=route, name=f"JSON nested {depth} deep", bytes=len(body), outcome=got.status,
                   seconds=got.seconds, rss_growth=got.rss_growth)  # fmt: skip
            assert got.status == 400, got.body
            assert got.rss_growth < MEMORY_BOUND
    assert_still_serving(http, server, good_vector)


@pytest.mark.slow  # ~25 s: builds and sends 60 MB of JSON
def test_huge_json_of_many_small_values_is_refused(server: ServerProcess, http: httpx.Client, good_vector: np.ndarray, record: Recorder) -> None:
    """About 60 MB of JSON: two million parts of one character, and five million numbers."""
    cases = {
        "JSON of 2,000,000 text parts": json.dumps({"content": {"parts": [{"text": "x"}] * 2_000_000}}).encode(),
        "JSON array of 5,000,000 numbers": b'{"content": {"parts": [{"text": "x"}]}, "x": [' + b"0," * 5_000_000 + b"0]}",
    }
    for name, body in cases.items():
        got = measured(server, lambda b=body: http.post(EMBED, content=b, headers={"content-type": "application/json"}))  # type: ignore[misc]
        record("bomb", route="gemini", name=name, bytes=len(body), outcome=got.status, seconds=got.seconds,
               rss_growth=got.rss_growth, message=got.body.get("error", {}).get("message", ""))  # fmt: skip
        assert got.status in (400, 413), got.body
        assert got.rss_growth < MEMORY_BOUND
    assert_still_serving(http, server, good_vector)


def test_text_of_millions_of_tokens_is_refused(server: ServerProcess, http: httpx.Client, good_vector: np.ndarray, lite: Embedder, record: Recorder) -> None:
    text = "lorem ipsum dolor sit amet " * 400_000  # 10.8 MB, ~2.4 million word pieces
    got = measured(server, lambda: http.post(EMBED, json=text_body(text)))
    record("bomb", route="gemini", name="text of ~2.4 million tokens", bytes=len(text), outcome=got.status,
           seconds=got.seconds, rss_growth=got.rss_growth, message=got.body.get("error", {}).get("message", ""))  # fmt: skip
    assert got.status == 400 and "the limit is 8192 tokens" in got.body["error"]["message"], got.body
    assert got.rss_growth < MEMORY_BOUND
    with pytest.raises(LimitExceeded, match="the limit is 8192 tokens"):
        lite.embed(text)
    assert_still_serving(http, server, good_vector)


@settings(max_examples=scale(300, 5000), derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300) | st.text(st.sampled_from(" \t\n\r\x00\x0b\x1c\u3000\u0301e.!_-a1\u00a9\u200b\u00ad"), max_size=80))
def test_the_cheap_token_bound_never_exceeds_the_real_count(text: str, lite: Embedder) -> None:
    """The refusal before tokenizing must never refuse text the tokenizer would accept."""
    assert min_tokens(text) <= len(lite.model.text_encoder.tokenize([text])[0])  # type: ignore[attr-defined]


def _base64_stream(prefix: bytes, n_bytes: int, suffix: bytes) -> Iterator[bytes]:
    """A JSON body whose base64 field holds ``n_bytes`` of random media, generated in 1 MiB pieces."""
    yield prefix
    piece = base64.b64encode(os.urandom(3 * 1024 * 256))  # 1 MiB of base64
    for _ in range(n_bytes // len(piece)):
        yield piece
    yield suffix


@pytest.mark.parametrize(("megabytes", "chunked"), [(300, True), (300, False), pytest.param(100, True, marks=pytest.mark.slow)])
def test_hundreds_of_megabytes_of_base64(
    megabytes: int, chunked: bool, server: ServerProcess, http: httpx.Client, good_vector: np.ndarray,
    record: Recorder,
) -> None:  # fmt: skip
    prefix = b'{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "'
    suffix = b'"}}]}}'
    n = megabytes * 1024 * 1024
    headers = {"content-type": "application/json"}
    stream = _base64_stream(prefix, n, suffix)
    if not chunked:
        headers["content-length"] = str(len(prefix) + n + len(suffix))
    got = measured(server, lambda: http.post(EMBED, content=stream, headers=headers))
    name = f"{megabytes} MB base64 body, {'chunked' if chunked else 'with Content-Length'}"
    record("bomb", route="gemini", name=name, bytes=n, outcome=got.status, seconds=got.seconds,
           rss_growth=got.rss_growth, message=got.body.get("error", {}).get("message", ""))  # fmt: skip
    assert got.status == 413 and "the limit is" in got.body["error"]["message"], got.body
    assert got.rss_growth < MEMORY_BOUND
    assert_still_serving(http, server, good_vector)


@pytest.mark.slow  # streams 80 MB; the 413 cases above cover the body limit in CI
def test_largest_accepted_body_of_garbage_is_400_in_bounded_memory(
    server: ServerProcess, http: httpx.Client, good_vector: np.ndarray, record: Recorder
) -> None:
    """60 MB of random bytes (80 MB of base64, under the 64 MiB media limit) declared as PNG."""
    prefix = b'{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "'
    stream = _base64_stream(prefix, 80 * 1024 * 1024, b'"}}]}}')
    got = measured(server, lambda: http.post(EMBED, content=stream, headers={"content-type": "application/json"}))
    record("bomb", route="gemini", name="60 MB of random bytes as image/png (under the limit)", bytes=80 * 2**20,
           outcome=got.status, seconds=got.seconds, rss_growth=got.rss_growth,
           message=got.body.get("error", {}).get("message", ""))  # fmt: skip
    assert got.status == 400, got.body
    assert got.rss_growth < MEMORY_BOUND
    assert_still_serving(http, server, good_vector)


def test_long_real_media_is_refused_not_decoded(tmp_path: Path, server: ServerProcess, http: httpx.Client, good_vector: np.ndarray, record: Recorder) -> None:
    """Twenty minutes of real (silent) 8 kHz audio, 19 MB: refused from its header."""
    wav = tmp_path / "long.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(8000 * 1200, "<i2").tobytes())
    data = wav.read_bytes()
    got = measured(server, lambda: http.post(EMBED, json=inline(data, "audio/wav")))
    record("bomb", route="gemini", name="20 minutes of audio", bytes=len(data), outcome=got.status,
           seconds=got.seconds, rss_growth=got.rss_growth, message=got.body.get("error", {}).get("message", ""))  # fmt: skip
    assert got.status == 400 and "the limit is 80 s" in got.body["error"]["message"], got.body
    assert got.rss_growth < MEMORY_BOUND
    assert_still_serving(http, server, good_vector)
