"""The Gemini batch API through the official google-genai client: create, poll, read, list, cancel, delete, restart."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from google import genai
from google.genai import errors, types

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ConfigError, ServerSettings
from omnivec.content import Content, Part
from omnivec.models.base import EmbedOptions

pytestmark = pytest.mark.filterwarnings("ignore::google.genai._common.ExperimentalWarning")

SUCCEEDED = types.JobState.JOB_STATE_SUCCEEDED
FINAL = {SUCCEEDED, types.JobState.JOB_STATE_FAILED, types.JobState.JOB_STATE_CANCELLED}


@pytest.fixture(scope="module")
def server(server_settings: ServerSettings, library: Embedder) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(create_app(server_settings, embedder=library)) as url,
        httpx.Client(base_url=url) as http,
    ):
        yield http


def client_for(url: str) -> genai.Client:
    return genai.Client(api_key="any-key", http_options=types.HttpOptions(base_url=url))


@pytest.fixture(scope="module")
def client(server: httpx.Client) -> genai.Client:
    return client_for(str(server.base_url))


def inline(
    contents: list[types.ContentUnion], config: types.EmbedContentConfig | None = None
) -> types.EmbeddingsBatchJobSource:
    return types.EmbeddingsBatchJobSource(
        inlined_requests=types.EmbedContentBatch(contents=contents, config=config)
    )


def wait_done(client: genai.Client, name: str, timeout: float = 60.0) -> types.BatchJob:
    deadline = time.monotonic() + timeout
    while (job := client.batches.get(name=name)).state not in FINAL:
        assert time.monotonic() < deadline, f"{name} is still {job.state} after {timeout:g} s"
        time.sleep(0.05)
    return job


def vectors_of(job: types.BatchJob) -> np.ndarray:
    assert job.dest is not None and job.dest.inlined_embed_content_responses is not None
    rows = [r.response.embedding.values for r in job.dest.inlined_embed_content_responses]  # type: ignore[union-attr]
    return np.array(rows, dtype=np.float32)


def texts(values: list[str]) -> list[Content]:
    return [Content((Part(text=v),)) for v in values]


def test_inline_texts(client: genai.Client, library: Embedder) -> None:
    words = ["a cat on a mat", "a dog in the fog", "the sun at noon"]
    job = client.batches.create_embeddings(
        model="gemini-embedding-001",
        src=inline(
            list(words),
            types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", title="notes", output_dimensionality=64),
        ),
        config=types.CreateEmbeddingsBatchJobConfig(display_name="three texts"),
    )
    assert job.name is not None and job.name.startswith("batches/")
    assert job.state in (types.JobState.JOB_STATE_PENDING, types.JobState.JOB_STATE_RUNNING)
    assert (job.display_name, job.model) == ("three texts", "models/gemini-embedding-001")
    done = wait_done(client, job.name)
    assert done.state == SUCCEEDED and done.end_time is not None
    expected = library.embed_contents(texts(words), EmbedOptions("RETRIEVAL_DOCUMENT", "notes", 64)).vectors
    np.testing.assert_allclose(vectors_of(done), expected, atol=1e-5)


def test_inline_image_and_fused_content(client: genai.Client, library: Embedder, photo_png: Path) -> None:
    png = photo_png.read_bytes()
    image = types.Part.from_bytes(data=png, mime_type="image/png")
    fused = types.Content(parts=[types.Part.from_text(text="a photo"), image])
    job = client.batches.create_embeddings(model="gemini-embedding-2", src=inline([image, fused]))
    assert job.name is not None
    done = wait_done(client, job.name)
    picture = Part.from_bytes(png, "image/png")
    contents = [Content((picture,)), Content((Part(text="a photo"), picture))]
    np.testing.assert_allclose(
        vectors_of(done), library.embed_contents(contents, EmbedOptions()).vectors, atol=1e-5
    )


@pytest.fixture(scope="module")
def file_job(
    client: genai.Client, photo_png: Path, tmp_path_factory: pytest.TempPathFactory
) -> types.BatchJob:
    """A batch from an uploaded JSONL file: a text, an uploaded image by name, an empty content, not JSON."""
    image = client.files.upload(file=photo_png, config=types.UploadFileConfig(mime_type="image/png"))
    lines = [
        {
            "key": "text",
            "request": {"content": {"parts": [{"text": "red car"}]}, "taskType": "RETRIEVAL_QUERY"},
        },
        {"key": "image", "request": {"content": {"parts": [{"fileData": {"fileUri": image.name}}]}}},
        {"key": "empty", "request": {"content": {"parts": []}}},
    ]
    path = tmp_path_factory.mktemp("batch") / "requests.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    uploaded = client.files.upload(file=path, config=types.UploadFileConfig(mime_type="text/plain"))
    job = client.batches.create_embeddings(
        model="text-embedding-004", src=types.EmbeddingsBatchJobSource(file_name=uploaded.name)
    )
    assert job.name is not None
    return wait_done(client, job.name)


def test_file_input_gives_a_responses_file(
    client: genai.Client, file_job: types.BatchJob, library: Embedder, photo_png: Path
) -> None:
    assert file_job.state == SUCCEEDED and file_job.dest is not None
    name = file_job.dest.file_name
    assert name is not None and name == f"files/batch-{file_job.name.removeprefix('batches/')}"  # type: ignore[union-attr]
    rows = [json.loads(line) for line in client.files.download(file=name).splitlines()]
    assert [r.get("key") for r in rows] == ["text", "image", "empty", None]
    got = np.array([r["response"]["embedding"]["values"] for r in rows[:2]], dtype=np.float32)
    text = library.embed_contents(texts(["red car"]), EmbedOptions(task="RETRIEVAL_QUERY")).vectors
    image = library.embed_contents(
        [Content((Part.from_bytes(photo_png.read_bytes(), "image/png"),))], EmbedOptions()
    )
    np.testing.assert_allclose(got, np.concatenate([text, image.vectors]), atol=1e-5)
    assert [r["error"]["code"] for r in rows[2:]] == [3, 3]  # google.rpc INVALID_ARGUMENT
    assert "parts" in rows[2]["error"]["message"] and "JSON" in rows[3]["error"]["message"]


def test_rest_wire_format(server: httpx.Client, file_job: types.BatchJob) -> None:
    body = server.get(f"/v1beta/{file_job.name}").json()
    assert body["done"] is True and body["name"] == file_job.name
    meta = body["metadata"]
    assert meta["@type"].endswith(".EmbedContentBatch") and meta["state"] == "BATCH_STATE_SUCCEEDED"
    assert meta["batchStats"] == {
        "requestCount": "4",
        "successfulRequestCount": "2",
        "failedRequestCount": "2",
        "pendingRequestCount": "0",
    }
    assert body["response"]["responsesFile"] == meta["output"]["responsesFile"]
    download = server.get(
        f"/download/v1beta/{meta['output']['responsesFile']}:download", params={"alt": "media"}
    )
    assert download.status_code == 200 and len(download.text.splitlines()) == 4


def test_list_pages_newest_first(client: genai.Client) -> None:
    made = [
        client.batches.create_embeddings(model="lite", src=inline([f"listed {i}"])).name for i in range(3)
    ]
    names = [job.name for job in client.batches.list(config=types.ListBatchJobsConfig(page_size=2))]
    assert names[:3] == made[::-1] and len(names) == len(set(names))
    for name in made:
        assert name is not None and wait_done(client, name).state == SUCCEEDED


def test_cancel_a_running_batch(
    client: genai.Client, server: httpx.Client, server_settings: ServerSettings
) -> None:
    job = client.batches.create_embeddings(model="lite", src=inline([f"to cancel {i}" for i in range(320)]))
    assert job.name is not None
    while client.batches.get(name=job.name).state == types.JobState.JOB_STATE_PENDING:
        time.sleep(0.01)
    client.batches.cancel(name=job.name)
    cancelled = client.batches.get(name=job.name)
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED and cancelled.dest is None
    body = server.get(f"/v1/{job.name}").json()
    assert body["done"] is True and body["error"]["code"] == 1  # google.rpc CANCELLED
    follow = client.batches.create_embeddings(model="lite", src=inline(["after a cancel"]))
    assert follow.name is not None
    assert wait_done(client, follow.name).state == SUCCEEDED  # the worker stopped it and moved on
    folder = server_settings.data_dir / "batches" / job.name.removeprefix("batches/")
    assert [p.name for p in folder.iterdir()] == ["batch.json"]  # its partial work is gone
    client.batches.cancel(name=job.name)  # cancelling an ended batch changes nothing
    assert client.batches.get(name=job.name).state == types.JobState.JOB_STATE_CANCELLED


def test_rest_inline_batch_echoes_metadata(server: httpx.Client, library: Embedder) -> None:
    entries = [
        {
            "request": {"content": {"parts": [{"text": "blue"}]}, "outputDimensionality": 32},
            "metadata": {"row": 7},
        },
        {"request": {"content": {"parts": [{"text": "sky"}]}}},
    ]
    batch = {"displayName": "rest", "priority": "5", "inputConfig": {"requests": {"requests": entries}}}
    created = server.post("/v1beta/models/lite:asyncBatchEmbedContent", json={"batch": batch}).json()
    assert created["done"] is False and created["metadata"]["displayName"] == "rest"
    while not (body := server.get(f"/v1beta/{created['name']}").json())["done"]:
        time.sleep(0.05)
    responses = body["response"]["inlinedResponses"]["inlinedResponses"]
    assert body["metadata"]["output"]["inlinedResponses"]["inlinedResponses"] == responses
    assert [r.get("metadata") for r in responses] == [{"row": 7}, None]
    got = np.array([r["response"]["embedding"]["values"] for r in responses], dtype=np.float32)
    np.testing.assert_allclose(
        got, library.embed_contents(texts(["blue", "sky"]), EmbedOptions(dim=32)).vectors, atol=1e-5
    )


def test_delete_and_unknown_batches(client: genai.Client, server: httpx.Client) -> None:
    job = client.batches.create_embeddings(model="lite", src=inline(["to delete"]))
    assert job.name is not None
    wait_done(client, job.name)
    client.batches.delete(name=job.name)
    with pytest.raises(errors.ClientError) as info:
        client.batches.get(name=job.name)
    assert info.value.code == 404
    for response in (
        server.get(f"/v1beta/{job.name}"),
        server.delete(f"/v1/{job.name}"),
        server.post("/v1beta/batches/nosuchbatch:cancel"),
        server.get("/v1/files/batch-nosuchbatch:download", params={"alt": "media"}),
    ):
        assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"


def inlined(*requests: tuple[str, dict[str, object]]) -> dict[str, object]:
    entries = [{"request": {"content": {"parts": [{"text": text}]}, **extra}} for text, extra in requests]
    return {"inputConfig": {"requests": {"requests": entries}}}


@pytest.mark.parametrize(
    ("batch", "status", "words"),
    [
        ({"inputConfig": {"fileName": "files/abc", "requests": {"requests": []}}}, 400, "exactly one"),
        ({"inputConfig": {"requests": {"requests": []}}}, 400, "empty"),
        ({"inputConfig": {"fileName": "files/nosuchfile"}}, 404, "does not exist"),
        (
            inlined(("x", {"outputDimensionality": 8}), ("y", {}), ("z", {"outputDimensionality": 16})),
            400,
            "outputDimensionality",
        ),
        (inlined(("x", {"omnivecSegments": True})), 400, "requests[0]"),
        (inlined(("x", {})) | {"model": "models/nosuchmodel"}, 404, "nosuchmodel"),
        (inlined(("x", {"model": "models/nosuchmodel"})), 404, "nosuchmodel"),
        ({"inputConfig": {}, "colour": "red"}, 400, "colour"),
    ],
)
def test_bad_batches_are_refused(
    server: httpx.Client, batch: dict[str, object], status: int, words: str
) -> None:
    response = server.post("/v1beta/models/lite:asyncBatchEmbedContent", json={"batch": batch})
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]


def test_one_server_per_data_dir_runs_jobs(server: httpx.Client, server_settings: ServerSettings) -> None:
    """A second server on the same data dir would run every job twice: it refuses to start."""
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ConfigError, match="another omnivec server"):
            create_app(server_settings).state.batches.open(loop)
    finally:
        loop.close()


def _progress(http: httpx.Client, name: str) -> tuple[int, int]:
    stats = http.get(f"/v1beta/{name}").json()["metadata"]["batchStats"]
    total = int(stats["requestCount"])
    return total - int(stats["pendingRequestCount"]), total


def test_jobs_survive_a_restart(tmp_path: Path, library: Embedder, caplog: pytest.LogCaptureFixture) -> None:
    """Stopped mid-job, the server resumes it on start; every request gets exactly one result, in order."""
    caplog.set_level(logging.INFO, logger="omnivec.batch.job")
    settings = ServerSettings(data_dir=tmp_path)
    # Enough lines that the job cannot finish between its first checkpoint and the stop (int8 ~800 texts/s).
    words = [f"note {i}: {'ab' * (i % 7)} the {i}th line" for i in range(1600)]
    with serve_in_thread(create_app(settings, embedder=library)) as url, httpx.Client(base_url=url) as http:
        before = client_for(url)
        early = before.batches.create_embeddings(model="lite", src=inline(["done before the restart"]))
        assert early.name is not None
        wait_done(before, early.name)
        job = before.batches.create_embeddings(model="lite", src=inline(list(words)))
        assert job.name is not None
        deadline = time.monotonic() + 30
        while (done := _progress(http, job.name)[0]) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert 0 < done < len(words), f"{done} of {len(words)} done when the server stopped"
    record = json.loads((tmp_path / "batches" / job.name.removeprefix("batches/") / "batch.json").read_text())
    assert record["state"] == "BATCH_STATE_RUNNING" and 0 < record["done_count"] < len(words)
    with serve_in_thread(create_app(settings, embedder=library)) as url, httpx.Client(base_url=url) as http:
        after = client_for(url)
        finished = wait_done(after, job.name)
        assert any(r.getMessage().startswith("resuming") for r in caplog.records)  # from its checkpoints
        assert finished.state == SUCCEEDED and _progress(http, job.name) == (len(words), len(words))
        expected = library.embed_contents(texts(words), EmbedOptions(), batch_size=64).vectors
        np.testing.assert_allclose(vectors_of(finished), expected, atol=1e-5)
        assert {j.name for j in after.batches.list()} == {early.name, job.name}
        assert vectors_of(after.batches.get(name=early.name)).shape == (1, 384)
