"""Load test of `omnivec serve` at 1, 8 and 32 concurrent clients, beside in-process throughput.

Starts the server as a subprocess on a free loopback port and drives it with concurrent
clients, one short text per embedContent request (as chat-style apps send them), for a fixed
duration per level. The library is measured in this process on the same texts in batches of
32, the ceiling the server's batching should approach. Server and library windows alternate
(``--rounds`` each per level), so a machine whose load changes during the run still gives a
fair ratio. Where ``.venv-peers`` holds infinity-emb (``bash benchmarks/peers/setup_infinity.sh``),
its server (torch engine, batch 32) serves the same MiniLM weights and is driven the same way
through its OpenAI-style ``/embeddings`` route, in the same alternating windows. Prints a
markdown table.

The load generator is a minimal HTTP/1.1 keep-alive client (:class:`Connection`, one
connection per simulated client, on uvloop when installed) rather than httpx: on a 2-core
machine the load generator shares the cores with the server it measures, and an httpx
``AsyncClient`` spent 1 to 3 ms of CPU per request (at 32 clients 2.8 ms, half of what the
server spent), so the benchmark largely measured its own client. This one sends complete
requests (request line, ``Host``, ``Content-Type``, ``Content-Length``, JSON body), reads each
response whole (``Content-Length`` or chunked), and checks every one: status 200, a JSON body,
and a vector of the model's width; anything else stops the run. It costs about 0.05 ms per
request at 32 clients (the "client CPU" column), and drives the infinity-emb server too.

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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import orjson
import psutil

from omnivec import Embedder
from omnivec.content import Content, Part
from omnivec.models.base import EmbedOptions

LEVELS = (1, 8, 32)
PEERS_BIN = Path(__file__).resolve().parent.parent / ".venv-peers" / "bin"
LIBRARY_BATCH = 32
TOPICS = (
    "the weather in spring", "a cat asleep on a sofa", "quarterly earnings", "jazz in New Orleans",
    "how to repair a bicycle", "the history of Rome", "baking sourdough bread", "tax law in France",
)  # fmt: skip
CORPUS = [f"Question {i}: what should I know about {TOPICS[i % len(TOPICS)]}?" for i in range(512)]


@dataclass(frozen=True, slots=True)
class Api:
    """One embedding route: where to post one text, and where the vector is in the answer."""

    route: str
    body: Callable[[str], dict[str, Any]]
    vector: Callable[[Any], list[float]]


GEMINI = Api(
    "/v1beta/models/lite:embedContent",
    lambda text: {"content": {"parts": [{"text": text}]}},
    lambda answer: answer["embedding"]["values"],
)
INFINITY = Api(
    "/embeddings",
    lambda text: {"model": "minilm", "input": [text]},
    lambda answer: answer["data"][0]["embedding"],
)


class Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection that sends a request and waits for its whole response.

    A connection the server closed while idle (uvicorn closes after 5 s without a request, as
    between this script's windows) is opened again before the next request.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None

    async def _connect(self) -> None:
        self._buffer.clear()
        await asyncio.get_running_loop().create_connection(lambda: self, self.host, self.port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is not None and not self._waiter.done():
            try:
                response = self._parse()
            except ValueError as exc:
                self._waiter.set_exception(exc)
                return
            if response is not None:
                self._waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"the server closed the connection ({exc})"))

    def _parse(self) -> tuple[int, bytes] | None:
        """(status, body) once the buffer holds a whole response, else None (wait for more)."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        version, status, _ = (*lines[0].split(" ", 2), "")[:3]
        if not version.startswith("HTTP/1.") or not status.isdigit():
            raise ValueError(f"not an HTTP/1.x status line: {lines[0]!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        start = end + 4
        if "content-length" in headers:
            stop = start + int(headers["content-length"])
            if len(self._buffer) < stop:
                return None
            body = bytes(self._buffer[start:stop])
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks, stop = [], start
            while True:
                line_end = self._buffer.find(b"\r\n", stop)
                if line_end < 0:
                    return None
                size = int(bytes(self._buffer[stop:line_end]).split(b";")[0], 16)
                if len(self._buffer) < line_end + 2 + size + 2:
                    return None
                chunks.append(bytes(self._buffer[line_end + 2 : line_end + 2 + size]))
                stop = line_end + 2 + size + 2
                if size == 0:
                    break
            body = b"".join(chunks)
        else:
            raise ValueError(f"response without Content-Length or chunked encoding: {headers}")
        del self._buffer[:stop]
        return int(status), body

    async def post(self, route: str, payload: bytes) -> tuple[int, bytes]:
        if self._transport is None or self._transport.is_closing():
            await self._connect()
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(
            f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


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
            f"{1e3 * self.server_cpu / len(self.latencies):.1f} | {1e3 * self.client_cpu / len(self.latencies):.2f}"
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
    return _wait_ready(
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), port, "/readyz"
    )


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


@dataclass(frozen=True, slots=True)
class Target:
    """A running server to drive: its port, its process (for CPU time), its API and vector width."""

    port: int
    process: psutil.Process
    api: Api
    dim: int


async def _client(
    connection: Connection, target: Target, stop: float, offset: int, latencies: list[float]
) -> None:
    i = offset
    while time.perf_counter() < stop:
        payload = orjson.dumps(target.api.body(CORPUS[i % len(CORPUS)]))
        started = time.perf_counter()
        status, body = await connection.post(target.api.route, payload)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{target.api.route} answered {status}: {body[:300]!r}")
        if len(vector := target.api.vector(orjson.loads(body))) != target.dim:
            raise RuntimeError(
                f"{target.api.route} answered a vector of {len(vector)} values, not {target.dim}"
            )
        i += 97


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def drive(connections: list[Connection], target: Target, seconds: float, tally: Tally) -> None:
    """One client per connection for ``seconds``; requests and CPU time are added to ``tally``."""
    latencies: list[float] = []
    server_cpu, client_cpu = _cpu(target.process), time.process_time()
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(_client(c, target, stop, k * 13, latencies) for k, c in enumerate(connections)))
    tally.seconds += time.perf_counter() - started
    tally.server_cpu += _cpu(target.process) - server_cpu
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
    ours: Target, embedder: Embedder, clients: int, seconds: float, rounds: int, peer: Target | None = None
) -> tuple[Tally, Tally, Tally | None]:
    served, local = Tally(f"server, {clients} clients"), Tally(f"in-process, batches of {LIBRARY_BATCH}")
    other = Tally(f"infinity-emb server, {clients} clients") if peer else None
    targets = [ours, *([peer] if peer else [])]
    pools = {t.port: [Connection("127.0.0.1", t.port) for _ in range(clients)] for t in targets}
    try:
        for target in targets:
            await drive(pools[target.port], target, 1.0, Tally("warm-up"))
        for _ in range(rounds):
            await drive(pools[ours.port], ours, seconds / rounds, served)
            library(embedder, LIBRARY_BATCH, seconds / rounds, local)
            if peer and other:
                await drive(pools[peer.port], peer, seconds / rounds, other)
    finally:
        for connection in (c for pool in pools.values() for c in pool):
            connection.close()
    return served, local, other


def run_async(main: Coroutine[Any, Any, Any]) -> Any:
    """Run ``main`` on uvloop where installed (it comes with uvicorn[standard]), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per level and side")
    parser.add_argument("--rounds", type=int, default=4, help="alternating server/library windows per level")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument(
        "--no-infinity", action="store_true", help="skip infinity-emb even where it is installed"
    )
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
    dim = embedder.info.dim
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(port, data_dir)
        peer_server = start_infinity(peer_port) if use_infinity else None
        try:
            ours = Target(port, psutil.Process(server.pid), GEMINI, dim)
            peer = Target(peer_port, psutil.Process(peer_server.pid), INFINITY, dim) if peer_server else None
            for clients in args.levels:
                served, local, other = run_async(
                    level(ours, embedder, clients, args.seconds, args.rounds, peer)
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
