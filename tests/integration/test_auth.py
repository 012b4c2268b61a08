"""API keys: three ways to send one, constant-time checked, never logged; health stays open."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings

KEYS = ("first-secret-key", "second-secret-key")
EMBED = "/v1beta/models/lite:embedContent"
BODY = {"content": {"parts": [{"text": "hello"}]}}


@pytest.fixture(scope="module")
def url(server_settings: ServerSettings, library: Embedder) -> Iterator[str]:
    app = create_app(replace(server_settings, api_keys=KEYS), library)
    with serve_in_thread(app, headers={"x-goog-api-key": KEYS[0]}) as running:
        yield running


def test_missing_key_is_401_in_each_format(url: str) -> None:
    gemini = httpx.post(url + EMBED, json=BODY)
    assert gemini.status_code == 401
    assert gemini.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "requires an API key" in gemini.json()["error"]["message"]
    openai_style = httpx.post(url + "/v1/embeddings", json={"model": "lite", "input": "x"})
    assert openai_style.status_code == 401
    assert openai_style.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"x-goog-api-key": KEYS[0]}, {}),
        ({}, {"key": KEYS[1]}),
        ({"Authorization": f"Bearer {KEYS[1]}"}, {}),
    ],
)
def test_three_ways_to_send_a_key(headers: dict[str, str], params: dict[str, str], url: str) -> None:
    assert httpx.post(url + EMBED, json=BODY, headers=headers, params=params).status_code == 200


def test_wrong_key_is_401(url: str) -> None:
    response = httpx.post(url + EMBED, json=BODY, headers={"x-goog-api-key": "first-secret-kez"})
    assert response.status_code == 401 and "API key not valid" in response.json()["error"]["message"]


def test_unauthenticated_malformed_body_is_401_not_400(url: str) -> None:
    response = httpx.post(url + EMBED, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 401


def test_health_readiness_metrics_are_open(url: str) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(url + path).status_code == 200


def test_official_clients_with_keys(url: str, tmp_path: Path) -> None:
    google = genai.Client(api_key=KEYS[0], http_options=types.HttpOptions(base_url=url))
    assert google.models.embed_content(model="gemini-embedding-001", contents="hi").embeddings
    note = tmp_path / "note.txt"
    note.write_text("uploaded with a key")
    assert (
        google.files.upload(file=note).state == types.FileState.ACTIVE
    )  # chunks carry no key, only the session
    wrong = genai.Client(
        api_key="nope", http_options=types.HttpOptions(base_url=url)
    )  # kept: closes when collected
    with pytest.raises(errors.ClientError) as caught:
        wrong.models.embed_content(model="gemini-embedding-001", contents="hi")
    assert caught.value.code == 401
    assert (
        openai.OpenAI(base_url=url + "/v1", api_key=KEYS[1]).embeddings.create(model="lite", input="hi").data
    )
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key="nope", max_retries=0).embeddings.create(
            model="lite", input="hi"
        )


def test_upload_chunk_without_a_session_is_refused(url: str) -> None:
    response = httpx.post(
        url + "/upload/v1beta/files?upload_id=guessed",
        content=b"x",
        headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
    )
    assert response.status_code == 404


def test_keys_are_never_logged(url: str, caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.INFO)  # the thread server runs at warning; `omnivec serve` logs access at info
    try:
        with caplog.at_level(logging.DEBUG):
            httpx.post(url + EMBED, json=BODY, headers={"x-goog-api-key": KEYS[0]})
            httpx.post(url + EMBED, json=BODY, params={"key": "wrong-key-value"})
            httpx.post(url + EMBED, json=BODY, params={"alt": "json", "key": KEYS[1]})
    finally:
        access.setLevel(level)
    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith(("omnivec", "uvicorn"))]
    assert any("key=***" in line for line in server_lines)
    assert not [line for line in server_lines if any(k in line for k in (*KEYS, "wrong-key-value"))]
