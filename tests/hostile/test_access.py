"""Access: file references stay inside the allowed roots, nothing is fetched from other hosts,
every route but health needs a key, keys never leak, and uploads belong to their key.
"""

from __future__ import annotations

import http.server
import inspect
import json
import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.hostile.conftest import (
    AUTH,
    EMBED,
    ENV,
    KEYS,
    OMNIVEC,
    Recorder,
    Sample,
    ServerProcess,
    assert_still_serving,
)

from omnivec import AccessDenied, Embedder, Part
from omnivec.api import auth
from omnivec.api.app import create_app
from omnivec.api.settings import ServerSettings

WRONG_KEY = "hostile-wrong-key-5e1d0c"
# Routes open without a key: health, readiness, metrics, and the search page's static files
# (the page holds no data; its searches call /v1/search, which needs a key).
OPEN = frozenset({"/healthz", "/readyz", "/metrics", "/", "/web/x"})


@pytest.fixture(scope="module")
def traps(root: Path, samples: dict[str, Sample], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Paths a request might name to get out of ``root``, each with a real target."""
    outside = tmp_path_factory.mktemp("outside")
    secret = outside / "secret.txt"
    secret.write_text("a secret outside the allowed root")
    inside = root / "traps"
    inside.mkdir()
    (inside / "escape.txt").symlink_to(secret)
    (inside / "escape-dir").symlink_to(outside, target_is_directory=True)
    (inside / "to-zero").symlink_to("/dev/zero")
    os.mkfifo(inside / "fifo")
    found = {
        "outside the roots": secret,
        "dot-dot escape": inside / ".." / ".." / outside.name / "secret.txt",
        "symlink escaping": inside / "escape.txt",
        "symlinked folder escaping": inside / "escape-dir" / "secret.txt",
        "symlink to /dev/zero": inside / "to-zero",
        "FIFO inside the root": inside / "fifo",
        "directory inside the root": inside,
        "/etc/passwd": Path("/etc/passwd"),
    }
    try:
        os.mknod(inside / "zero-device", stat.S_IFCHR | 0o600, os.makedev(1, 5))
        found["character device inside the root"] = inside / "zero-device"
    except PermissionError:
        pass  # not root: the symlink to /dev/zero covers devices
    return found


def file_body(uri: str, mime: str | None = "text/plain") -> dict[str, Any]:
    data: dict[str, Any] = {"fileUri": uri} | ({"mimeType": mime} if mime else {})
    return {"content": {"parts": [{"fileData": data}]}}


def test_file_references_outside_the_roots_are_403(
    traps: dict[str, Path], http: httpx.Client, server: ServerProcess, good_vector: np.ndarray, record: Recorder
) -> None:
    for name, path in traps.items():
        for uri in (str(path), f"file://{path}"):
            response = http.post(EMBED, json=file_body(uri), timeout=30)  # a FIFO must not block
            record("access", route="gemini", name=name, outcome=response.status_code)
            assert response.status_code == 403, (name, response.text)
            error = response.json()["error"]
            assert error["status"] == "PERMISSION_DENIED"
            assert "a secret" not in error["message"] and "/dev/zero" not in error["message"].replace(str(path), "")
    assert_still_serving(http, server, good_vector)


def test_library_refuses_the_same_paths(traps: dict[str, Path], lite: Embedder) -> None:
    for path in traps.values():
        with pytest.raises(AccessDenied):
            lite.embed(Part.from_path(path, "text/plain"))


def test_batch_run_gives_403_rows_for_them(traps: dict[str, Path], root: Path, tmp_path: Path) -> None:
    lines = [{"id": name, "path": str(path)} for name, path in traps.items()]
    source = tmp_path / "paths.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "out.jsonl"
    run = subprocess.run([OMNIVEC, "batch", "run", str(source), str(out), "--allow", str(root)],
                         capture_output=True, text=True, env=ENV, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["key"], r["error"]["code"]) for r in rows] == [(x["id"], 403) for x in lines]


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012  (shared by design: the server's record of requests)

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"fetched")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def bystander() -> Iterator[tuple[str, list[str]]]:
    """A tiny HTTP server on loopback that records every request it receives."""
    _Counting.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", _Counting.hits
    server.shutdown()


def test_other_schemes_are_refused_and_nothing_is_fetched(
    bystander: tuple[str, list[str]], http: httpx.Client, lite: Embedder, record: Recorder
) -> None:
    host, hits = bystander
    uris = [f"http://{host}/cat.png", f"https://{host}/cat.png", f"ftp://{host}/cat.png",
            f"http://{host}/v1beta/files/abc", f"file://{host}/etc/passwd", f"gs://bucket/{host}",
            f"//{host}/cat.png", f"HTTP://{host}/x"]  # fmt: skip
    for uri in uris:
        response = http.post(EMBED, json=file_body(uri, "image/png"))
        record("access", route="gemini", name=f"fileUri scheme {uri.split(':')[0]}", outcome=response.status_code)
        assert response.status_code in (400, 403), (uri, response.text)
        openai = http.post("/v1/embeddings", json={"model": "lite", "input": uri})
        assert openai.status_code in (200, 400)  # a URL in OpenAI input is text: never fetched either
    assert hits == []


def route_paths() -> list[tuple[str, str]]:
    """(method, path) of every route of the app, included routers too, path parameters filled in."""
    app = create_app(ServerSettings(data_dir=Path("/nonexistent")))
    found: list[tuple[str, str]] = []
    pending = list(app.router.routes)
    while pending:
        route = pending.pop()
        if (included := getattr(route, "original_router", None)) is not None:
            pending.extend(included.routes)
            continue
        path = re.sub(r"\{[^}]+\}", "x", getattr(route, "path", ""))
        found.extend((m, path) for m in sorted(getattr(route, "methods", None) or ()) if m != "HEAD")
    return sorted(set(found))


def test_every_route_but_health_needs_a_key(server: ServerProcess, record: Recorder) -> None:
    routes = route_paths()
    assert len(routes) > 20
    for method, path in routes:
        for headers in ({}, {"x-goog-api-key": WRONG_KEY}, {"Authorization": f"Bearer {WRONG_KEY}"}):
            response = httpx.request(method, server.url + path, headers=headers, content=b"{}")
            if path in OPEN:
                assert response.status_code in (200, 404, 405), (method, path)
            else:
                assert response.status_code == 401, (method, path, headers, response.status_code)
                assert WRONG_KEY not in response.text
    record("access", route="all", name=f"{len(routes)} routes without or with a wrong key", outcome=401)


def test_keys_are_compared_in_constant_time() -> None:
    source = inspect.getsource(auth.key_matches)
    assert "hmac.compare_digest" in source or "secrets.compare_digest" in source
    middleware = inspect.getsource(auth.ApiKeyMiddleware)
    assert "key_matches(" in middleware
    assert not re.search(r"presented\s*(==|!=|in\b)", middleware)  # no early-exit comparison


def test_keys_never_appear_in_logs_or_errors(server: ServerProcess, http: httpx.Client) -> None:
    for params, headers in (({"key": WRONG_KEY}, {}), ({}, {"x-goog-api-key": WRONG_KEY}),
                            ({"key": KEYS[1]}, {}), ({}, {"Authorization": f"Bearer {KEYS[0]}"})):  # fmt: skip
        response = httpx.post(server.url + EMBED, params=params, headers=headers, json={"content": {}})
        assert not any(k in response.text for k in (*KEYS, WRONG_KEY))
    log = server.log()
    assert "POST /v1beta/models/lite:embedContent" in log  # the access log is on (debug level)
    assert not any(k in log for k in (*KEYS, WRONG_KEY))


def upload(http_client: httpx.Client, key: str, data: bytes, mime: str) -> str:
    response = http_client.post(
        "/upload/v1beta/files", content=data,
        headers={"x-goog-api-key": key, "x-goog-upload-protocol": "raw", "content-type": mime},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    name: str = response.json()["file"]["name"]
    return name


def test_uploaded_files_are_visible_only_to_their_key(
    server: ServerProcess, samples: dict[str, Sample], lite: Embedder, record: Recorder
) -> None:
    with httpx.Client(base_url=server.url, timeout=120) as client:
        name = upload(client, KEYS[0], samples["text"].data, "text/plain")
        mine, theirs = {"x-goog-api-key": KEYS[0]}, {"x-goog-api-key": KEYS[1]}
        uri = f"{server.url}/v1beta/{name}"
        assert client.get(f"/v1beta/{name}", headers=mine).status_code == 200
        assert client.get(f"/v1beta/{name}", headers=theirs).status_code == 404
        assert name not in json.dumps(client.get("/v1beta/files", headers=theirs).json())
        assert name in json.dumps(client.get("/v1beta/files", headers=mine).json())
        for file_uri in (name, uri):
            refused = client.post(EMBED, json=file_body(file_uri), headers=theirs)
            assert refused.status_code == 404, refused.text
        batch = {"requests": [{"content": file_body(name)["content"]}]}
        assert client.post("/v1beta/models/lite:batchEmbedContents", json=batch, headers=theirs).status_code == 404
        assert client.delete(f"/v1beta/{name}", headers=theirs).status_code == 404
        used = client.post(EMBED, json=file_body(uri), headers=mine)
        assert used.status_code == 200
        np.testing.assert_allclose(used.json()["embedding"]["values"], lite.embed(samples["text"].data.decode()).vectors[0], atol=1e-5)
        assert client.delete(f"/v1beta/{name}", headers=mine).status_code == 200
        assert client.get(f"/v1beta/{name}", headers=mine).status_code == 404
    record("access", route="files", name="another key's upload: get, list, delete, embed", outcome=404)
    assert AUTH  # the session client's key is KEYS[0]


def test_batch_jobs_are_visible_only_to_their_key(server: ServerProcess, record: Recorder) -> None:
    mine, theirs = {"x-goog-api-key": KEYS[0]}, {"x-goog-api-key": KEYS[1]}
    job = {"batch": {"inputConfig": {"requests": {"requests": [{"request": {"content": {"parts": [{"text": "a cat"}]}}}]}}}}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        created = client.post("/v1beta/models/lite:asyncBatchEmbedContent", json=job, headers=mine)
        assert created.status_code == 200, created.text
        name = created.json()["name"]
        assert client.get(f"/v1beta/{name}", headers=mine).status_code == 200
        assert client.get(f"/v1beta/{name}", headers=theirs).status_code == 404
        assert name not in json.dumps(client.get("/v1beta/batches", headers=theirs).json())
        assert name in json.dumps(client.get("/v1beta/batches", headers=mine).json())
        assert client.post(f"/v1beta/{name}:cancel", headers=theirs).status_code == 404
        assert client.delete(f"/v1beta/{name}", headers=theirs).status_code == 404
        assert client.get(f"/v1beta/{name}", headers=mine).status_code == 200  # untouched by the other key
        assert client.delete(f"/v1beta/{name}", headers=mine).status_code == 200
    record("access", route="batches", name="another key's batch job: get, list, cancel, delete", outcome=404)
