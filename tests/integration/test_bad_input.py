"""Bad requests get the right code and a message naming the problem; the server keeps serving."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings

MAX_MEDIA_BYTES = 8 * 1024 * 1024
EMBED = "/v1beta/models/lite:embedContent"
LONG_TEXT = " ".join(f"word{i} of a rather long document about nothing" for i in range(600))


def text_body(text: str = "hello") -> dict[str, object]:
    return {"content": {"parts": [{"text": text}]}}


def inline(mime: str, data: bytes) -> dict[str, object]:
    return {
        "content": {"parts": [{"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}]}
    }


@pytest.fixture(scope="module")
def server(server_settings: ServerSettings) -> Iterator[httpx.Client]:
    app = create_app(replace(server_settings, max_request_bytes=MAX_MEDIA_BYTES))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


@pytest.fixture(autouse=True)
def still_serving(server: httpx.Client) -> Iterator[None]:
    yield
    assert server.post(EMBED, json=text_body()).status_code == 200


def error_of(response: httpx.Response, code: int, status: str) -> str:
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["status"] == status
    message: str = error["message"]
    return message


RAW_BODIES = [
    (b'{"content": {"parts": [{"text": "x"}]', "Invalid JSON payload received"),
    (b"not json at all", "Invalid JSON payload received"),
    (b"[1, 2]", "Input should be a valid dictionary"),
    (b"", "the body is empty"),
]


@pytest.mark.parametrize(("raw", "fragment"), RAW_BODIES)
def test_malformed_json(raw: bytes, fragment: str, server: httpx.Client) -> None:
    response = server.post(EMBED, content=raw, headers={"content-type": "application/json"})
    assert fragment in error_of(response, 400, "INVALID_ARGUMENT")


BAD_BODIES = [
    ({**text_body(), "temperature": 0.5}, 'Unknown name "temperature": Cannot find field.'),
    (
        {"content": {"parts": [{"text": "x", "thought": True}]}},
        "Unknown name \"thought\" at 'content.parts[0]'",
    ),
    ({"content": {"parts": [{"text": 5}]}}, "Invalid value at 'content.parts[0].text'"),
    ({**text_body(), "outputDimensionality": "wide"}, "Invalid value at 'outputDimensionality'"),
    ({"content": "hello"}, "Invalid value at 'content'"),
    ({}, "'content' is required"),
    ({"content": {"parts": []}}, "content.parts is empty"),
    (
        {"content": {"parts": [{}]}},
        "content.parts[0]: a part must hold exactly one of text, inlineData or fileData",
    ),
    (
        {"content": {"parts": [{"text": "a", "inlineData": {"mimeType": "image/png", "data": ""}}]}},
        "exactly one",
    ),
    ({**text_body(), "taskType": "SUMMARIZE"}, "unknown task type 'SUMMARIZE'"),
    (
        {**text_body(), "outputDimensionality": 4096},
        "output dimensionality 4096 is out of range; lite gives 1 to 384",
    ),
    ({**text_body(), "omnivecQuantization": "int4"}, "unknown quantization 'int4'"),
    ({**text_body(), "model": "models/other"}, "model 'models/other' is not served here"),
    (inline("image/png", b"\x89PNG\r\n\x1a\n"), "not a readable PNG"),
    (
        {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "@@not base64@@"}}]}},
        "not valid base64",
    ),
    (
        inline("image/png", b"\xff\xd8\xff\xe0 a jpeg, really"),
        "declared image/png but the bytes are a JPEG image",
    ),
    (inline("image/gif", b"GIF89a"), "MIME type 'image/gif' is not supported"),
    (inline("audio/wav", b""), "data is empty"),
    (
        {"content": {"parts": [{"fileData": {"fileUri": "http://169.254.169.254/latest/meta-data"}}]}},
        "never fetches",
    ),
    ({"content": {"parts": [{"fileData": {"fileUri": "relative/cat.png"}}]}}, "never fetches"),
]


@pytest.mark.parametrize(("body", "fragment"), BAD_BODIES)
def test_bad_body(body: dict[str, object], fragment: str, server: httpx.Client) -> None:
    code = 404 if "not served here" in fragment else 400
    message = error_of(
        server.post(EMBED, json=body), code, "NOT_FOUND" if code == 404 else "INVALID_ARGUMENT"
    )
    assert fragment in message


def test_unknown_model_is_404(server: httpx.Client) -> None:
    message = error_of(server.post("/v1beta/models/gpt-4:embedContent", json=text_body()), 404, "NOT_FOUND")
    assert "model 'gpt-4' is not served here" in message and "gemini-embedding-001" in message


def test_unknown_route_and_method(server: httpx.Client) -> None:
    assert "no such endpoint" in error_of(server.post("/v1beta/nothing", json=text_body()), 404, "NOT_FOUND")
    message = error_of(
        server.post("/v1beta/models/lite:generateContent", json=text_body()), 405, "UNIMPLEMENTED"
    )
    assert message.startswith("POST /v1beta/models/lite:generateContent: no such endpoint or method")


def test_batch_errors_name_the_request(server: httpx.Client) -> None:
    requests = [
        text_body("ok"),
        {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "??"}}]}},
    ]
    message = error_of(
        server.post("/v1beta/models/lite:batchEmbedContents", json={"requests": requests}),
        400,
        "INVALID_ARGUMENT",
    )
    assert message.startswith("requests[1].content.parts[0]: ")
    empty = server.post("/v1beta/models/lite:batchEmbedContents", json={"requests": []})
    assert "requests is empty" in error_of(empty, 400, "INVALID_ARGUMENT")


def test_over_limit_media_is_400(server: httpx.Client, long_speech_wav: Path) -> None:
    message = error_of(
        server.post(EMBED, json=inline("audio/wav", long_speech_wav.read_bytes())), 400, "INVALID_ARGUMENT"
    )
    assert "the limit is 80 s" in message


def test_corrupt_media_is_400(server: httpx.Client, photo_png: Path) -> None:
    truncated = photo_png.read_bytes()[:200]
    assert error_of(server.post(EMBED, json=inline("image/png", truncated)), 400, "INVALID_ARGUMENT")


def test_oversize_body_declared_length_is_413(server: httpx.Client) -> None:
    body = (
        b'{"content": {"parts": [{"text": "' + b"x" * (MAX_MEDIA_BYTES * 4 // 3 + 2 * 1024 * 1024) + b'"}]}}'
    )
    response = server.post(EMBED, content=body, headers={"content-type": "application/json"})
    assert "the limit is" in error_of(response, 413, "INVALID_ARGUMENT")


def test_oversize_body_chunked_is_413(server: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"content": {"parts": [{"text": "'
        for _ in range(14):
            yield b"x" * (1024 * 1024)
        yield b'"}]}}'

    response = server.post(EMBED, content=chunks(), headers={"content-type": "application/json"})
    assert "request body is over" in error_of(response, 413, "INVALID_ARGUMENT")


def test_chunked_body_under_the_limit_is_served(server: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"content": {"parts": [{"text": "chunked'
        yield b' hello"}]}}'

    response = server.post(EMBED, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 200 and len(response.json()["embedding"]["values"]) == 384


# -- overload and timeout: servers of their own, sharing the loaded library model ------------------
async def _burst(url: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        return await asyncio.gather(*(http.post(EMBED, json=text_body(f"{i} {LONG_TEXT}")) for i in range(n)))


def test_full_queue_is_429_with_retry_after(server_settings: ServerSettings, library: Embedder, tmp_path: Path) -> None:
    # A second server needs its own data dir: one server per data dir runs its batch jobs.
    settings = replace(server_settings, data_dir=tmp_path, queue_size=1, max_batch_cost=1, max_wait_ms=0)
    with serve_in_thread(create_app(settings, library)) as url:
        responses = asyncio.run(_burst(url, 12))
        codes = sorted(r.status_code for r in responses)
        assert set(codes) == {200, 429}
        refused = next(r for r in responses if r.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert "OMNIVEC_QUEUE_SIZE=1" in refused.json()["error"]["message"]
        assert httpx.post(url + EMBED, json=text_body()).status_code == 200


def test_request_timeout_is_504(server_settings: ServerSettings, library: Embedder, tmp_path: Path) -> None:
    settings = replace(server_settings, data_dir=tmp_path, request_timeout=0.01)
    with serve_in_thread(create_app(settings, library)) as url:
        response = httpx.post(url + EMBED, json=text_body(LONG_TEXT), timeout=60)  # within limits, slow
        assert "did not finish within 0.01 s" in error_of(response, 504, "DEADLINE_EXCEEDED")
