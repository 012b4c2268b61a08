"""A bounded load test on loopback: many more concurrent clients than the queue admits, for a
fixed time. The server refuses the excess with 429/503 and Retry-After, its memory stays flat,
and every accepted request gets the library's vector.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import numpy as np
from tests.hostile.conftest import AUTH, EMBED, MEMORY_BOUND, QUEUE_SIZE, Recorder, ServerProcess, scale

from omnivec import Embedder

CLIENTS = 32  # concurrent clients, 8x the measured server's queue of 4
WORDS = "the server under load answers every accepted request correctly and refuses the rest " * 12


async def _client(url: str, number: int, until: float, results: list[tuple[str, int, httpx.Response]]) -> None:
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=300) as http:
        i = 0
        while time.monotonic() < until:
            text = f"client {number} request {i}: {WORDS}"
            response = await http.post(EMBED, json={"content": {"parts": [{"text": text}]}})
            results.append((text, response.status_code, response))
            i += 1
            if response.status_code in (429, 503):
                await asyncio.sleep(0.05)  # a polite client would honour Retry-After; a flood does not


def test_overload_is_refused_with_retry_after_and_accepted_answers_are_right(
    server: ServerProcess, lite: Embedder, record: Recorder
) -> None:
    seconds = scale(8, 60)
    samples: list[int] = []
    done = threading.Event()

    def sample_rss() -> None:
        while not done.is_set():
            samples.append(server.rss())
            time.sleep(0.1)

    start_rss = server.rss()
    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    results: list[tuple[str, int, httpx.Response]] = []

    async def flood() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(_client(server.url, n, until, results) for n in range(CLIENTS)))

    began = time.perf_counter()
    asyncio.run(flood())
    elapsed = time.perf_counter() - began
    done.set()
    sampler.join()
    end_rss = server.rss()

    codes: dict[int, int] = {}
    for _, code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    refused = [r for _, code, r in results if code in (429, 503)]
    accepted = [(text, r) for text, code, r in results if code == 200]
    assert set(codes) <= {200, 429, 503}, codes
    assert refused and accepted, codes  # more clients than the queue: both must happen
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all(r.json()["error"]["status"] in ("RESOURCE_EXHAUSTED", "UNAVAILABLE") for r in refused)
    got = np.array([r.json()["embedding"]["values"] for _, r in accepted], np.float32)
    expected = lite.embed([text for text, _ in accepted], batch_size=64).vectors
    wrong = int((np.abs(got - expected).max(axis=1) > 1e-4).sum())
    peak = max(samples, default=end_rss)
    record("load", clients=CLIENTS, queue_size=QUEUE_SIZE, seconds=round(elapsed, 1), requests=len(results),
           codes=codes, accepted=len(accepted), wrong=wrong, rss_start=start_rss, rss_peak=peak,
           rss_end=end_rss)  # fmt: skip
    assert wrong == 0
    assert peak - start_rss < MEMORY_BOUND and end_rss - start_rss < MEMORY_BOUND
