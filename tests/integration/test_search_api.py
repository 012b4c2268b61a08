"""The index routes against a real server: ingest by path and by upload, search by text and by
file, media with HTTP Range, thumbnails, delete, and refusal of sources not in the index."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from PIL import Image

from omnivec import Embedder
from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Image.Image], text_pdf: Path,
           speech_wav: Path, video_mp4: Path) -> Path:  # fmt: skip
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "volcano.md").write_text("# Volcanoes\nVolcanoes erupt when molten magma rises to the surface.")
    (folder / "bread.txt").write_text("Knead the dough and let the bread rise overnight before baking.")
    photos["chelsea"].save(folder / "cat.png")
    (folder / "report.pdf").write_bytes(text_pdf.read_bytes())
    (folder / "speech.wav").write_bytes(speech_wav.read_bytes())
    (folder / "clip.mp4").write_bytes(video_mp4.read_bytes())
    return folder


@pytest.fixture(scope="module")
def url(corpus: Path, server_settings: ServerSettings, library: Embedder,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # fmt: skip
    index_dir = tmp_path_factory.mktemp("index") / "idx"
    settings = replace(server_settings, index_dir=index_dir, allowed_roots=(corpus.resolve(),))
    with serve_in_thread(create_app(settings, library)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str, corpus: Path) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=300) as c:
        added = c.post("/v1/index/documents", json={"paths": [str(corpus)]})
        assert added.status_code == 200, added.text
        report = added.json()
        assert (report["added"], report["errors"]) == (6, []), report
        yield c


def _names(body: dict[str, list[dict[str, object]]]) -> list[str]:
    return [Path(str(r["source"])).name for r in body["results"]]


def test_search_by_text(client: httpx.Client) -> None:
    found = client.post("/v1/search", json={"query": "magma and eruptions", "k": 3})
    assert found.status_code == 200, found.text
    first = found.json()["results"][0]
    assert Path(first["source"]).name == "volcano.md" and first["modality"] == "text"
    assert 0 < first["score"] <= 1 and "magma" in first["snippet"]
    assert first["media_url"].startswith("/v1/index/media?source=")

    pdf = client.post("/v1/search", json={"query": "page", "modalities": ["pdf"], "k": 20}).json()
    assert pdf["results"] and {r["modality"] for r in pdf["results"]} == {"pdf"}
    assert all(r["page_start"] >= 1 and r["page_end"] >= r["page_start"] for r in pdf["results"])
    audio = client.post("/v1/search", json={"query": "speech", "path": "*.wav"}).json()
    assert _names(audio) == ["speech.wav"] and "start_s" in audio["results"][0]


def test_search_by_file(client: httpx.Client, corpus: Path) -> None:
    data = (corpus / "cat.png").read_bytes()
    found = client.post("/v1/search", files={"file": ("query.png", data, "image/png")}, data={"k": "2"})
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert len(results) == 2 and Path(results[0]["source"]).name == "cat.png"
    assert results[0]["score"] > 0.99 and results[0]["thumbnail_url"]


def test_media_serves_indexed_files_with_range(client: httpx.Client, corpus: Path) -> None:
    source = str((corpus / "speech.wav").resolve())
    full = client.get("/v1/index/media", params={"source": source})
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert full.content == (corpus / "speech.wav").read_bytes()
    part = client.get("/v1/index/media", params={"source": source}, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == full.content[10:20]
    assert part.headers["content-range"].startswith("bytes 10-19/")
    video = client.get("/v1/index/media", params={"source": str((corpus / "clip.mp4").resolve())})
    assert video.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(
    ("name", "params"), [("cat.png", {}), ("report.pdf", {"page": 2}), ("clip.mp4", {"t": 1.0})]
)
def test_thumbnails(client: httpx.Client, corpus: Path, name: str, params: dict[str, float]) -> None:
    got = client.get("/v1/index/thumbnail", params={"source": str((corpus / name).resolve()), **params})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(got.content))
    assert image.format == "PNG" and max(image.size) <= 320 and min(image.size) > 10


def test_sources_not_in_the_index_are_refused(client: httpx.Client, corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not indexed")
    for route in ("/v1/index/media", "/v1/index/thumbnail"):
        for source in (str(outside), "/etc/passwd", str(corpus / ".." / "cat.png")):
            got = client.get(route, params={"source": source})
            assert got.status_code == 404, (route, source, got.text)
            assert got.json()["error"]["status"] == "NOT_FOUND"
    denied = client.post("/v1/index/documents", json={"paths": [str(outside)]})
    assert denied.status_code == 403 and denied.json()["error"]["status"] == "PERMISSION_DENIED"


def test_upload_then_delete(client: httpx.Client) -> None:
    note = b"Orchids grow on tree bark in humid tropical forests."
    added = client.post("/v1/index/documents", files={"file": ("orchids.txt", note, "text/plain")})
    assert added.status_code == 200 and added.json()["added"] == 1, added.text
    hit = client.post("/v1/search", json={"query": "tropical orchids", "k": 1}).json()["results"][0]
    assert Path(hit["source"]).name == "orchids.txt"
    assert client.get(hit["media_url"]).content == note
    deleted = client.request("DELETE", "/v1/index/documents", json={"paths": [hit["source"]]})
    assert deleted.status_code == 200 and deleted.json() == {"removed": 1}
    assert client.get(hit["media_url"]).status_code == 404
    names = _names(client.post("/v1/search", json={"query": "tropical orchids", "k": 10}).json())
    assert "orchids.txt" not in names


def test_bad_requests(client: httpx.Client) -> None:
    bad = client.post("/v1/search", json={"query": "x", "modalities": ["smell"]})
    assert bad.status_code == 400 and "unknown modality" in bad.json()["error"]["message"]
    assert client.post("/v1/search", json={"k": 3}).status_code == 400
    assert client.post("/v1/search", json={"query": "x", "colour": 1}).status_code == 400
