"""Run the app under uvicorn on a free loopback port in a background thread (tests, benchmarks).

The server is real (sockets, HTTP parsing, lifespan, graceful shutdown), so clients such as
google-genai and openai talk to it exactly as to ``omnivec serve``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI


def _wait_ready(url: str, headers: Mapping[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", headers=dict(headers), timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the server at {url} was not ready after {timeout:g} s")


@contextmanager
def serve_in_thread(
    app: FastAPI, headers: Mapping[str, str] | None = None, timeout: float = 120.0
) -> Iterator[str]:
    """Serve ``app`` on ``127.0.0.1:<free port>`` until the block ends; yield its base URL.

    Args:
        app: from :func:`omnivec.api.app.create_app`.
        headers: sent with the ``/readyz`` polls (an API key, when the app requires one).
        timeout: seconds to wait for the model to load.

    Raises:
        TimeoutError: ``/readyz`` did not answer 200 in time.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        _wait_ready(url, headers or {}, timeout)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()
