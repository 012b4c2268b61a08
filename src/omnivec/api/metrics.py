"""Prometheus metrics: requests by route and code, latency, batch sizes and queue depth.

Each app owns its registry, so several servers in one process (tests) do not collide. Routes
are labelled by their template (``/v1beta/models/{model}:embedContent``), never the raw path,
so label cardinality stays bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
COST_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)


class Metrics:
    """The server's metrics; also the batcher's observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "omnivec_requests", "HTTP requests by route and status code", ["route", "code"], registry=r
        )
        self.latency = Histogram(
            "omnivec_request_seconds", "HTTP request latency", ["route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.batch_requests = Histogram(
            "omnivec_batch_requests", "requests per model call", buckets=SIZE_BUCKETS, registry=r
        )
        self.batch_contents = Histogram(
            "omnivec_batch_contents", "contents per model call", buckets=SIZE_BUCKETS, registry=r
        )
        self.batch_cost = Histogram(
            "omnivec_batch_cost", "estimated cost units per model call", buckets=COST_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "omnivec_batch_seconds", "model time per call", buckets=LATENCY_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("omnivec_queue_depth", "requests waiting for the model", registry=r)
        self.embeddings = Counter("omnivec_embeddings", "contents embedded", registry=r)

    def on_batch(self, requests: int, contents: int, cost: float, seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_contents.observe(contents)
        self.batch_cost.observe(cost)
        self.batch_seconds.observe(seconds)
        self.embeddings.inc(contents)

    def on_queue_depth(self, depth: int) -> None:
        self.queue_depth.set(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every HTTP request by route template and status code, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled children, looked up once per (route, code) rather than once per request.
        self._counted: dict[tuple[str, int], Counter] = {}
        self._timed: dict[str, Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if (counter := self._counted.get((route, status))) is None:
                counter = self._counted[route, status] = self.metrics.requests.labels(route, str(status))
            if (timer := self._timed.get(route)) is None:
                timer = self._timed[route] = self.metrics.latency.labels(route)
            counter.inc()
            timer.observe(time.perf_counter() - started)
