"""The official openai client, pointed at the server, gets the library's vectors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings
from omnivec.content import Content, Part
from omnivec.models.base import EmbedOptions

TEXTS = ["a red bicycle", "quarterly earnings report", "a cat asleep on a sofa"]


@pytest.fixture(scope="module")
def server(server_settings: ServerSettings) -> Iterator[httpx.Client]:
    with serve_in_thread(create_app(server_settings)) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def client(server: httpx.Client) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="any-key", max_retries=0)


def expected(library: Embedder, items: list[Part], dim: int | None = None) -> np.ndarray:
    return library.embed_contents([Content((p,)) for p in items], EmbedOptions(dim=dim)).vectors


def rows(response: openai.types.CreateEmbeddingResponse) -> np.ndarray:
    return np.array([d.embedding for d in response.data], dtype=np.float32)


def test_default_base64_encoding(client: openai.OpenAI, library: Embedder) -> None:
    response = client.embeddings.create(
        model="text-embedding-3-small", input=TEXTS
    )  # the client asks for base64
    np.testing.assert_allclose(rows(response), expected(library, [Part(text=t) for t in TEXTS]), atol=1e-5)
    assert [d.index for d in response.data] == [0, 1, 2]
    assert response.model == "text-embedding-3-small" and response.usage.prompt_tokens > 0


def test_float_encoding_and_dimensions(client: openai.OpenAI, library: Embedder) -> None:
    response = client.embeddings.create(
        model="lite", input="a red bicycle", dimensions=64, encoding_format="float"
    )
    assert len(response.data[0].embedding) == 64
    np.testing.assert_allclose(
        rows(response), expected(library, [Part(text="a red bicycle")], dim=64), atol=1e-5
    )


def test_base64_is_little_endian_float32(server: httpx.Client, library: Embedder) -> None:
    body = {"model": "lite", "input": "hello", "encoding_format": "base64"}
    encoded = server.post("/v1/embeddings", json=body).json()["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    np.testing.assert_allclose(decoded, expected(library, [Part(text="hello")])[0], atol=1e-6)


def test_data_url_media(client: openai.OpenAI, library: Embedder, photo_png: Path) -> None:
    png = photo_png.read_bytes()
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    response = client.embeddings.create(model="lite", input=[url, "a cat"])
    np.testing.assert_allclose(
        rows(response), expected(library, [Part.from_bytes(png, "image/png"), Part(text="a cat")]), atol=1e-5
    )


def test_nested_list_is_one_multipart_input(server: httpx.Client, library: Embedder) -> None:
    body = {"model": "lite", "input": [["red", "car"]], "encoding_format": "float"}
    got = server.post("/v1/embeddings", json=body).json()["data"]
    want = library.embed_contents([Content((Part(text="red"), Part(text="car")))], EmbedOptions()).vectors
    np.testing.assert_allclose([got[0]["embedding"]], want, atol=1e-5)


@pytest.mark.parametrize("encoding", ["int8", "uint8", "binary"])
def test_quantized_encodings(encoding: str, server: httpx.Client, library: Embedder) -> None:
    body = {"model": "lite", "input": "hello", "encoding_format": encoding}
    got = server.post("/v1/embeddings", json=body).json()["data"][0]["embedding"]
    v = expected(library, [Part(text="hello")])[0]
    want = {
        "int8": np.clip(np.rint(v * 127), -127, 127),
        "uint8": np.rint((v + 1) * 127.5),
        "binary": np.packbits(v > 0),
    }[encoding]
    assert got == want.astype(int).tolist()


def test_models(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "lite" and "text-embedding-3-large" in ids
    assert client.models.retrieve("text-embedding-3-small").id == "text-embedding-3-small"


def test_errors_in_openai_format(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.embeddings.create(model="gpt-4o", input="x")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as tokens:
        client.embeddings.create(model="lite", input=[[101, 2023, 102]])
    assert "token-id arrays are not supported" in tokens.value.message
    with pytest.raises(openai.BadRequestError) as dims:
        client.embeddings.create(model="lite", input="x", dimensions=4096)
    assert "out of range" in dims.value.message
    with pytest.raises(openai.BadRequestError) as extra:
        client.embeddings.create(model="lite", input="x", extra_body={"temperature": 1})
    assert extra.value.body == {
        "message": "Unrecognized request argument supplied: temperature",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": None,
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": "lite", "input": ""}, "input[0] is an empty string"),
        ({"model": "lite", "input": []}, "non-empty list"),
        ({"model": "lite", "input": [1.5]}, "input[0] must be a string"),
        ({"model": "lite", "input": "data:image/png;base64,%%%"}, "not valid base64"),
        (
            {"model": "lite", "input": "data:image/png;base64,aGVsbG8="},
            "declared image/png but the bytes are UTF-8 text",
        ),
        ({"model": "lite", "input": "x", "encoding_format": "hex"}, "encoding_format 'hex'"),
        ({"input": "x"}, "'model' is required"),
    ],
)
def test_bad_input(body: dict[str, object], fragment: str, server: httpx.Client) -> None:
    response = server.post("/v1/embeddings", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert fragment in error["message"] and error["type"] == "invalid_request_error"
