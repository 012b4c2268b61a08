"""Load test of `omnivec serve` at 1, 8 and 32 concurrent clients, beside in-process throughput.

Starts the server as a subprocess on a free loopback port and drives it with httpx async
clients, one short text per embedContent request (as chat-style apps send them), for a fixed
duration per level. The library is measured in this process on the same texts in batches of
32, the ceiling the server's batching should approach. Server and library windows alternate
(``--rounds`` each per level), so a machine whose load changes during the run still gives a
fair ratio. Prints a markdown table.

    .venv/bin/python benchmarks/serve.py --seconds 12
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
import psutil

from omnivec import Embedder
from omnivec.content import Content, Part
from omnivec.models.base import EmbedOptions

LEVELS = (1, 8, 32)
LIBRARY_BATCH = 32
TOPICS = (
    "the weather in spring", "a cat asleep on a sofa", "quarterly earnings", "jazz in New Orleans",
    "how to repair a bicycle", "the history of Rome", "baking sourdough bread", "tax law in France",
)  # fmt: skip
CORPUS = [f"Question {i}: what should I know about {TOPICS[i % len(TOPICS)]}?" for i in range(512)]


@dataclass(slots=True)
class Tally:
    """Calls, embeddings and per-call latencies over one or more timed windows."""

    label: str
    seconds: float = 0.0
    embeddings: int = 0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0  # CPU seconds of the server process (all its threads)
    client_cpu: float = 0.0  # CPU seconds of this process while it was the load generator

    def row(self, ratio: float | None = None) -> str:
        p50, p99 = np.percentile(self.latencies, [50, 99]) * 1e3
        calls, per_s = len(self.latencies) / self.seconds, self.embeddings / self.seconds
        shown = f"{ratio:.2f}" if ratio is not None else ""
        cpu = (
            f"{1e3 * self.server_cpu / len(self.latencies):.1f} | {1e3 * self.client_cpu / len(self.latencies):.1f}"
            if self.server_cpu
            else " | "
        )
        return f"| {self.label} | {calls:.1f} | {per_s:.1f} | {p50:.1f} | {p99:.1f} | {cpu} | {shown} |"

    @property
    def rate(self) -> float:
        return self.embeddings / self.seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "omnivec.api.serve_cli", "--port", str(port), "--data-dir", data_dir,
               "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("server not ready after 180 s")


async def _client(http: httpx.AsyncClient, stop: float, offset: int, latencies: list[float]) -> None:
    i = offset
    while time.perf_counter() < stop:
        body = {"content": {"parts": [{"text": CORPUS[i % len(CORPUS)]}]}}
        started = time.perf_counter()
        response = await http.post("/v1beta/models/lite:embedContent", json=body)
        response.raise_for_status()
        latencies.append(time.perf_counter() - started)
        i += 97


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def drive(
    http: httpx.AsyncClient, server: psutil.Process, clients: int, seconds: float, tally: Tally
) -> None:
    """``clients`` concurrent clients for ``seconds``; requests and CPU time are added to ``tally``."""
    latencies: list[float] = []
    server_cpu, client_cpu = _cpu(server), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(_client(http, started + seconds, c * 13, latencies) for c in range(clients)))
    tally.seconds += time.perf_counter() - started
    tally.server_cpu += _cpu(server) - server_cpu
    tally.client_cpu += time.process_time() - client_cpu
    tally.embeddings += len(latencies)
    tally.latencies += latencies


def library(embedder: Embedder, batch: int, seconds: float, tally: Tally) -> None:
    """Embed batches of ``batch`` texts in this process for ``seconds``."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        start = tally.embeddings
        chunk = [Content((Part(text=CORPUS[(start + k) % len(CORPUS)]),)) for k in range(batch)]
        t0 = time.perf_counter()
        embedder.embed_contents(chunk, EmbedOptions(), batch_size=batch)
        tally.latencies.append(time.perf_counter() - t0)
        tally.embeddings += batch
    tally.seconds += time.perf_counter() - started


async def level(
    url: str, server: psutil.Process, embedder: Embedder, clients: int, seconds: float, rounds: int
) -> tuple[Tally, Tally]:
    served, local = Tally(f"server, {clients} clients"), Tally(f"in-process, batches of {LIBRARY_BATCH}")
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await drive(http, server, clients, 1.0, Tally("warm-up"))
        for _ in range(rounds):
            await drive(http, server, clients, seconds / rounds, served)
            library(embedder, LIBRARY_BATCH, seconds / rounds, local)
    return served, local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per level and side")
    parser.add_argument("--rounds", type=int, default=4, help="alternating server/library windows per level")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    embedder = Embedder("lite")
    single = Tally("in-process, one text per call")
    library(embedder, 1, 1.0, Tally("warm-up"))
    library(embedder, 1, args.seconds / args.rounds, single)
    lines = [
        "| run | calls/s | embeddings/s | p50 ms per call | p99 ms per call | server process CPU ms/request (model + HTTP)"
        " | client CPU ms/request | server / in-process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        single.row(),
    ]
    port = _free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir)
        try:
            for clients in args.levels:
                url, process = f"http://127.0.0.1:{port}", psutil.Process(server.pid)
                served, local = asyncio.run(level(url, process, embedder, clients, args.seconds, args.rounds))
                lines += [served.row(served.rate / local.rate), local.row()]
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"{os.cpu_count()} cores; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
