"""The official google-genai client, pointed at the server, gets the library's vectors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from google import genai
from google.genai import errors, types

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings
from omnivec.content import Content, Part
from omnivec.models.base import EmbedOptions

MEDIA = [
    ("photo_png", "image/png"),
    ("speech_wav", "audio/wav"),
    ("video_mp4", "video/mp4"),
    ("text_pdf", "application/pdf"),
]


@pytest.fixture(scope="module")
def server(server_settings: ServerSettings, media_dir: Path) -> Iterator[httpx.Client]:
    app = create_app(replace(server_settings, allowed_roots=(media_dir,)))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def client(server: httpx.Client) -> genai.Client:
    return genai.Client(api_key="any-key", http_options=types.HttpOptions(base_url=str(server.base_url)))


def library_vectors(
    library: Embedder, contents: list[Content], options: EmbedOptions | None = None
) -> np.ndarray:
    return library.embed_contents(contents, options or EmbedOptions()).vectors


def vectors(response: types.EmbedContentResponse) -> np.ndarray:
    assert response.embeddings is not None
    return np.array([e.values for e in response.embeddings], dtype=np.float32)


def text(value: str) -> Part:
    return Part(text=value)


def test_text(client: genai.Client, library: Embedder) -> None:
    response = client.models.embed_content(model="gemini-embedding-001", contents="a cat on a mat")
    np.testing.assert_allclose(
        vectors(response), library_vectors(library, [Content((text("a cat on a mat"),))]), atol=1e-5
    )
    assert response.usage_metadata is not None and response.usage_metadata.prompt_token_count == 5


@pytest.mark.parametrize(("fixture", "mime"), MEDIA)
def test_media_part(
    fixture: str, mime: str, client: genai.Client, library: Embedder, request: pytest.FixtureRequest
) -> None:
    data = request.getfixturevalue(fixture).read_bytes()
    response = client.models.embed_content(
        model="gemini-embedding-2", contents=types.Part.from_bytes(data=data, mime_type=mime)
    )
    expected = library_vectors(library, [Content((Part.from_bytes(data, mime),))])
    np.testing.assert_allclose(vectors(response), expected, atol=1e-5)


def test_gemini_embedding_2_fuses_a_list_of_parts(
    client: genai.Client, library: Embedder, photo_png: Path
) -> None:
    """google-genai groups consecutive parts into ONE content for multimodal (gemini-embedding-2*) models."""
    png = photo_png.read_bytes()
    contents = [types.Part.from_text(text="a cat"), types.Part.from_bytes(data=png, mime_type="image/png")]
    response = client.models.embed_content(model="gemini-embedding-2", contents=contents)
    expected = library_vectors(library, [Content((text("a cat"), Part.from_bytes(png, "image/png")))])
    assert vectors(response).shape == (1, 384)
    np.testing.assert_allclose(vectors(response), expected, atol=1e-5)


def test_gemini_embedding_001_embeds_each_part_alone(
    client: genai.Client, library: Embedder, photo_png: Path
) -> None:
    png = photo_png.read_bytes()
    contents = [types.Part.from_text(text="a cat"), types.Part.from_bytes(data=png, mime_type="image/png")]
    response = client.models.embed_content(model="gemini-embedding-001", contents=contents)
    expected = library_vectors(
        library, [Content((text("a cat"),)), Content((Part.from_bytes(png, "image/png"),))]
    )
    np.testing.assert_allclose(vectors(response), expected, atol=1e-5)


def test_strings_are_one_content_for_gemini_embedding_2(client: genai.Client, library: Embedder) -> None:
    fused = client.models.embed_content(model="gemini-embedding-2", contents=["red", "car"])
    separate = client.models.embed_content(model="text-embedding-004", contents=["red", "car"])
    np.testing.assert_allclose(
        vectors(fused), library_vectors(library, [Content((text("red"), text("car")))]), atol=1e-5
    )
    np.testing.assert_allclose(
        vectors(separate),
        library_vectors(library, [Content((text("red"),)), Content((text("car"),))]),
        atol=1e-5,
    )


def test_several_mixed_contents(
    client: genai.Client, library: Embedder, photo_png: Path, speech_wav: Path
) -> None:
    png, wav = photo_png.read_bytes(), speech_wav.read_bytes()
    contents = [
        types.Content(
            parts=[
                types.Part.from_text(text="a photo of a cat"),
                types.Part.from_bytes(data=png, mime_type="image/png"),
            ]
        ),
        types.Content(parts=[types.Part.from_bytes(data=wav, mime_type="audio/wav")]),
        types.Content(parts=[types.Part.from_text(text="the lazy dog")]),
    ]
    response = client.models.embed_content(model="gemini-embedding-2", contents=contents)
    expected = library_vectors(
        library,
        [
            Content((text("a photo of a cat"), Part.from_bytes(png, "image/png"))),
            Content((Part.from_bytes(wav, "audio/wav"),)),
            Content((text("the lazy dog"),)),
        ],
    )
    np.testing.assert_allclose(vectors(response), expected, atol=1e-5)


def test_config_task_dimensionality_title(client: genai.Client, library: Embedder) -> None:
    config = types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=128, title="Pets")
    response = client.models.embed_content(
        model="gemini-embedding-001", contents=["cats purr", "dogs bark"], config=config
    )
    options = EmbedOptions(task="RETRIEVAL_DOCUMENT", title="Pets", dim=128)
    expected = library_vectors(
        library, [Content((text("cats purr"),)), Content((text("dogs bark"),))], options
    )
    assert vectors(response).shape == (2, 128)
    np.testing.assert_allclose(vectors(response), expected, atol=1e-5)
    untitled = library_vectors(
        library, [Content((text("cats purr"),))], EmbedOptions(task="RETRIEVAL_DOCUMENT", dim=128)
    )
    assert not np.allclose(vectors(response)[0], untitled[0], atol=1e-3)  # the title reached the model


def test_uploaded_file_by_uri(client: genai.Client, library: Embedder, photo_png: Path) -> None:
    uploaded = client.files.upload(file=photo_png)
    assert uploaded.name and uploaded.uri and uploaded.mime_type == "image/png"
    assert uploaded.size_bytes == photo_png.stat().st_size
    assert client.files.get(name=uploaded.name).uri == uploaded.uri
    assert uploaded.name in [f.name for f in client.files.list()]
    by_uri = client.models.embed_content(
        model="gemini-embedding-2", contents=types.Part.from_uri(file_uri=uploaded.uri, mime_type="image/png")
    )
    by_file = client.models.embed_content(model="gemini-embedding-2", contents=uploaded)
    expected = library_vectors(library, [Content((Part.from_bytes(photo_png.read_bytes(), "image/png"),))])
    np.testing.assert_allclose(vectors(by_uri), expected, atol=1e-5)
    np.testing.assert_allclose(vectors(by_file), expected, atol=1e-5)
    client.files.delete(name=uploaded.name)
    with pytest.raises(errors.ClientError) as caught:
        client.files.get(name=uploaded.name)
    assert caught.value.code == 404


def test_upload_with_a_lying_mime_type_is_refused(client: genai.Client, text_pdf: Path) -> None:
    started = time.monotonic()
    with pytest.raises(errors.ClientError) as caught:
        client.files.upload(file=text_pdf, config=types.UploadFileConfig(mime_type="image/png"))
    assert caught.value.code == 400 and "declared image/png but the bytes are a PDF document" in (
        caught.value.message or ""
    )
    assert time.monotonic() - started < 5  # answered at once, not after the client's retries


def test_local_path_inside_allowed_root(client: genai.Client, library: Embedder, text_pdf: Path) -> None:
    for uri in (text_pdf.as_uri(), str(text_pdf)):
        response = client.models.embed_content(
            model="gemini-embedding-2",
            contents=types.Part.from_uri(file_uri=uri, mime_type="application/pdf"),
        )
        expected = library_vectors(
            library, [Content((Part.from_bytes(text_pdf.read_bytes(), "application/pdf"),))]
        )
        np.testing.assert_allclose(vectors(response), expected, atol=1e-5)


def test_local_path_outside_allowed_roots_is_403(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.embed_content(
            model="gemini-embedding-2",
            contents=types.Part.from_uri(file_uri="file:///etc/hostname", mime_type="text/plain"),
        )
    assert caught.value.code == 403 and caught.value.status == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    "uri", ["https://example.com/cat.png", "gs://bucket/cat.png", "ftp://example.com/cat.png"]
)
def test_remote_uris_are_refused_without_fetching(uri: str, client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.embed_content(
            model="gemini-embedding-2", contents=types.Part.from_uri(file_uri=uri, mime_type="image/png")
        )
    assert caught.value.code == 400 and "never fetches" in (caught.value.message or "")


def test_models_list_and_get(client: genai.Client) -> None:
    names = [m.name for m in client.models.list()]
    assert names[0] == "models/lite" and "models/gemini-embedding-001" in names
    lite = client.models.get(model="lite")
    assert lite.supported_actions == ["embedContent", "batchEmbedContents", "asyncBatchEmbedContent"]
    assert lite.input_token_limit == 8192
    with pytest.raises(errors.ClientError) as caught:
        client.models.get(model="no-such-model")
    assert caught.value.code == 404


def test_v1beta_embed_content_and_quantized_values(server: httpx.Client, library: Embedder) -> None:
    body = {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 64}
    plain = server.post("/v1beta/models/lite:embedContent", json=body).json()["embedding"]["values"]
    expected = library_vectors(library, [Content((text("hello"),))], EmbedOptions(dim=64))[0]
    np.testing.assert_allclose(plain, expected, atol=1e-5)
    got = {
        kind: server.post(
            "/v1beta/models/lite:embedContent", json={**body, "omnivecQuantization": kind}
        ).json()
        for kind in ("int8", "uint8", "BINARY")
    }
    assert (
        got["int8"]["embedding"]["values"] == np.clip(np.rint(expected * 127), -127, 127).astype(int).tolist()
    )
    assert got["uint8"]["embedding"]["values"] == np.rint((expected + 1) * 127.5).astype(int).tolist()
    assert got["BINARY"]["embedding"]["values"] == np.packbits(expected > 0).tolist()


def test_snake_case_and_camel_case_keys(server: httpx.Client) -> None:
    png_b64 = "iVBORw0KGgo="  # a PNG signature only: decodes as PNG, then fails to decode as an image
    camel = {
        "content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": png_b64}}]},
        "taskType": "CLUSTERING",
    }
    snake = {
        "content": {"parts": [{"inline_data": {"mime_type": "image/png", "data": png_b64}}]},
        "task_type": "CLUSTERING",
    }
    for body in (camel, snake):
        error = server.post("/v1beta/models/lite:embedContent", json=body).json()["error"]
        assert error["status"] == "INVALID_ARGUMENT" and "Unknown name" not in error["message"]


def test_batch_embed_contents_per_request_options(server: httpx.Client, library: Embedder) -> None:
    requests = [
        {"model": "models/lite", "content": {"parts": [{"text": "alpha"}]}, "outputDimensionality": 32},
        {
            "model": "models/gemini-embedding-001",
            "content": {"parts": [{"text": "beta"}]},
            "taskType": "RETRIEVAL_QUERY",
        },
    ]
    answer = server.post("/v1beta/models/lite:batchEmbedContents", json={"requests": requests}).json()
    first, second = (e["values"] for e in answer["embeddings"])
    np.testing.assert_allclose(
        first, library_vectors(library, [Content((text("alpha"),))], EmbedOptions(dim=32))[0], atol=1e-5
    )
    np.testing.assert_allclose(second, library_vectors(library, [Content((text("beta"),))])[0], atol=1e-5)
