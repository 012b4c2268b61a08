"""Load test of `omnivec serve` at 1, 8 and 32 concurrent clients, beside in-process throughput.

Starts the server as a subprocess on a free loopback port and drives it with httpx async
clients, one short text per embedContent request (as chat-style apps send them), for a fixed
duration per level. The library is measured in this process on the same texts in batches of
32, the ceiling the server's batching should approach. Server and library windows alternate
(``--rounds`` each per level), so a machine whose load changes during the run still gives a
fair ratio. Where ``.venv-peers`` holds infinity-emb (``bash benchmarks/peers/setup_infinity.sh``),
its server (torch engine, batch 32) serves the same MiniLM weights and is driven the same way
through its OpenAI-style ``/embeddings`` route, in the same alternating windows. Prints a
markdown table.

    .venv/bin/python benchmarks/serve.py --seconds 12 [--no-infinity]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil

from omnivec import Embedder
from omnivec.content import Content, Part
from omnivec.models.base import EmbedOptions

LEVELS = (1, 8, 32)
PEERS_BIN = Path(__file__).resolve().parent.parent / ".venv-peers" / "bin"
Request = Callable[[str], tuple[str, dict[str, object]]]  # text -> (route, JSON body)


def omnivec_request(text: str) -> tuple[str, dict[str, object]]:
    return "/v1beta/models/lite:embedContent", {"content": {"parts": [{"text": text}]}}


def infinity_request(text: str) -> tuple[str, dict[str, object]]:
    return "/embeddings", {"model": "minilm", "input": [text]}
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
    library_cpu: float = 0.0  # CPU seconds of this process while it embedded in-process

    def row(self, ratio: float | None = None) -> str:
        p50, p99 = np.percentile(self.latencies, [50, 99]) * 1e3
        calls, per_s = len(self.latencies) / self.seconds, self.embeddings / self.seconds
        shown = f"{ratio:.2f}" if ratio is not None else ""
        cpu = (
            f"{1e3 * self.server_cpu / len(self.latencies):.1f} | {1e3 * self.client_cpu / len(self.latencies):.1f}"
            if self.server_cpu
            else " | "
        )
        # CPU per embedding (server process, or this process in-process): unlike rates, it does
        # not depend on how much of the machine the other jobs on it leave to each process.
        per_embedding = 1e3 * (self.server_cpu or self.library_cpu) / max(self.embeddings, 1)
        return (f"| {self.label} | {calls:.1f} | {per_s:.1f} | {p50:.1f} | {p99:.1f} | {cpu} | {per_embedding:.2f} "
                f"| {shown} |")  # fmt: skip

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
    return _wait_ready(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), port, "/readyz")


def start_infinity(port: int) -> subprocess.Popen[bytes]:
    """infinity-emb's server on the same MiniLM weights, from its own venv."""
    from omnivec.encoders.minilm import default_weights

    command = [str(PEERS_BIN / "infinity_emb"), "v2", "--model-id", str(default_weights()), "--served-model-name",
               "minilm", "--engine", "torch", "--device", "cpu", "--batch-size", "32", "--no-bettertransformer",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return _wait_ready(process, port, "/health")


def _wait_ready(process: subprocess.Popen[bytes], port: int, route: str) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{route}", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("server not ready after 300 s")


async def _client(http: httpx.AsyncClient, request: Request, stop: float, offset: int, latencies: list[float]) -> None:
    i = offset
    while time.perf_counter() < stop:
        route, body = request(CORPUS[i % len(CORPUS)])
        started = time.perf_counter()
        response = await http.post(route, json=body)
        response.raise_for_status()
        latencies.append(time.perf_counter() - started)
        i += 97


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def drive(
    http: httpx.AsyncClient, server: psutil.Process, clients: int, seconds: float, tally: Tally,
    request: Request = omnivec_request,
) -> None:
    """``clients`` concurrent clients for ``seconds``; requests and CPU time are added to ``tally``."""
    latencies: list[float] = []
    server_cpu, client_cpu = _cpu(server), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(_client(http, request, started + seconds, c * 13, latencies) for c in range(clients)))
    tally.seconds += time.perf_counter() - started
    tally.server_cpu += _cpu(server) - server_cpu
    tally.client_cpu += time.process_time() - client_cpu
    tally.embeddings += len(latencies)
    tally.latencies += latencies


def library(embedder: Embedder, batch: int, seconds: float, tally: Tally) -> None:
    """Embed batches of ``batch`` texts in this process for ``seconds``."""
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        start = tally.embeddings
        chunk = [Content((Part(text=CORPUS[(start + k) % len(CORPUS)]),)) for k in range(batch)]
        t0 = time.perf_counter()
        embedder.embed_contents(chunk, EmbedOptions(), batch_size=batch)
        tally.latencies.append(time.perf_counter() - t0)
        tally.embeddings += batch
    tally.seconds += time.perf_counter() - started
    tally.library_cpu += time.process_time() - cpu


async def level(
    url: str, server: psutil.Process, embedder: Embedder, clients: int, seconds: float, rounds: int,
    peer: tuple[str, psutil.Process] | None = None,
) -> tuple[Tally, Tally, Tally | None]:
    served, local = Tally(f"server, {clients} clients"), Tally(f"in-process, batches of {LIBRARY_BATCH}")
    other = Tally(f"infinity-emb server, {clients} clients") if peer else None
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with (
        httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http,
        httpx.AsyncClient(base_url=peer[0] if peer else url, timeout=120, limits=limits) as peer_http,
    ):
        await drive(http, server, clients, 1.0, Tally("warm-up"))
        if peer:
            await drive(peer_http, peer[1], clients, 1.0, Tally("warm-up"), infinity_request)
        for _ in range(rounds):
            await drive(http, server, clients, seconds / rounds, served)
            library(embedder, LIBRARY_BATCH, seconds / rounds, local)
            if peer and other:
                await drive(peer_http, peer[1], clients, seconds / rounds, other, infinity_request)
    return served, local, other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per level and side")
    parser.add_argument("--rounds", type=int, default=4, help="alternating server/library windows per level")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--no-infinity", action="store_true", help="skip infinity-emb even where it is installed")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    embedder = Embedder("lite")
    single = Tally("in-process, one text per call")
    library(embedder, 1, 1.0, Tally("warm-up"))
    library(embedder, 1, args.seconds / args.rounds, single)
    lines = [
        "| run | calls/s | embeddings/s | p50 ms per call | p99 ms per call | server process CPU ms/request (model + HTTP)"
        " | client CPU ms/request | CPU ms per embedding | server / in-process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        single.row(),
    ]
    port, peer_port = _free_port(), _free_port()
    use_infinity = not args.no_infinity and (PEERS_BIN / "infinity_emb").exists()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir)
        peer_server = start_infinity(peer_port) if use_infinity else None
        try:
            for clients in args.levels:
                url, process = f"http://127.0.0.1:{port}", psutil.Process(server.pid)
                peer = (f"http://127.0.0.1:{peer_port}", psutil.Process(peer_server.pid)) if peer_server else None
                served, local, other = asyncio.run(
                    level(url, process, embedder, clients, args.seconds, args.rounds, peer)
                )
                lines += [served.row(served.rate / local.rate), local.row()]
                if other:
                    lines.append(other.row(other.rate / local.rate))
        finally:
            for process_ in (server, peer_server):
                if process_ is not None:
                    process_.terminate()
                    process_.wait(timeout=60)
    print(f"{os.cpu_count()} cores; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"runtime {embedder.model.info.version}; infinity-emb {'beside' if use_infinity else 'not run'}")  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    main()
