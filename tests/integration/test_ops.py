"""Health, readiness, metrics, the `serve` command, and graceful shutdown of a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from omnivec.api.app import create_app
from omnivec.api.background import serve_in_thread
from omnivec.api.settings import ServerSettings

EMBED = "/v1beta/models/lite:embedContent"
LONG_TEXT = " ".join(f"sentence {i} about the weather in spring" for i in range(400))


@pytest.fixture(scope="module")
def url(server_settings: ServerSettings) -> Iterator[str]:
    with serve_in_thread(create_app(server_settings)) as running:
        yield running


def test_healthz_and_readyz(url: str) -> None:
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(url + "/readyz").json()
    assert ready["status"] == "ready" and ready["model"] == "lite"


def test_readyz_is_503_until_the_model_is_loaded(server_settings: ServerSettings) -> None:
    async def probe() -> httpx.Response:
        app = create_app(server_settings)  # lifespan not started: the model never loads
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            return await http.get("/readyz")

    response = asyncio.run(probe())
    assert response.status_code == 503 and response.json()["error"]["status"] == "UNAVAILABLE"
    assert response.headers["retry-after"] == "2"


def test_metrics(url: str) -> None:
    httpx.post(url + EMBED, json={"content": {"parts": [{"text": "count me"}]}})
    httpx.post(url + EMBED, content=b"{", headers={"content-type": "application/json"})
    text = httpx.get(url + "/metrics").text
    assert 'omnivec_requests_total{code="200",route="/v1beta/models/{model}:embedContent"}' in text
    assert 'omnivec_requests_total{code="400",route="/v1beta/models/{model}:embedContent"}' in text
    assert 'omnivec_request_seconds_bucket{le="0.005",route="/v1beta/models/{model}:embedContent"}' in text
    for name in (
        "omnivec_batch_contents_bucket",
        "omnivec_batch_requests_count",
        "omnivec_queue_depth",
        "omnivec_batch_cost_bucket",
        "omnivec_embeddings_total",
    ):
        assert name in text


# -- the command ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "omnivec.api.serve_cli", *args]


def test_refuses_a_public_host_without_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIVEC_")}
    done = subprocess.run(
        _command("--host", "0.0.0.0", "--data-dir", str(tmp_path)),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "refusing to bind 0.0.0.0 without an API key" in done.stderr


def test_bad_config_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "omnivec.toml"
    config.write_text("port = 8080\nqueue = 3\n")
    done = subprocess.run(
        _command("--config", str(config)), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and "unknown keys queue" in done.stderr


async def _slow_requests(url: str, n: int, started: asyncio.Event) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        tasks = [
            asyncio.create_task(http.post(EMBED, json={"content": {"parts": [{"text": f"{i} {LONG_TEXT}"}]}}))
            for i in range(n)
        ]
        await asyncio.sleep(1.0)  # all connected and queued; the model needs seconds for them
        started.set()
        return [r.status_code for r in await asyncio.gather(*tasks)]


def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "omnivec.toml"
    config.write_text(f'port = {port}\ndata_dir = "{tmp_path / "data"}"\nmax_wait_ms = 2\n')
    process = subprocess.Popen(
        _command("--config", str(config), "--log-level", "warning"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)

        async def scenario() -> list[int]:
            started = asyncio.Event()
            requests = asyncio.create_task(_slow_requests(url, 6, started))
            await started.wait()
            process.send_signal(signal.SIGTERM)
            return await requests

        codes = asyncio.run(scenario())
        assert codes == [200] * 6
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once done
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/healthz")


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")
