"""Prometheus metrics of one app (its own registry, so several apps can share a process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ner_inference.entities import ENTITY_TYPES, Entity

# Known paths are labelled as they are; anything else is one label, so that scanners
# probing random URLs cannot blow up the number of time series.
ROUTES = frozenset({"/", "/predict", "/health", "/ready", "/metrics", "/docs", "/openapi.json"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 256)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "ner_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "ner_http_request_duration_seconds",
            "HTTP request latency, first byte received to last byte sent",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("ner_http_requests_in_flight", "requests being served", registry=r)
        self.batch_size = Histogram(
            "ner_inference_batch_size", "texts per forward pass", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "ner_inference_batch_seconds",
            "time of one forward pass",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.texts = Counter("ner_texts_total", "texts tagged", registry=r)
        entities = Counter("ner_entities_total", "entities found", ["type"], registry=r)
        self._entities = {kind: entities.labels(kind) for kind in ENTITY_TYPES}
        self.load_seconds = Gauge(
            "ner_model_load_seconds", "time to load the model", ["backend", "version"], registry=r
        )
        self.ready = Gauge("ner_ready", "1 when /ready answers 200", registry=r)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        self.texts.inc(size)

    def count_entities(self, results: list[list[Entity]]) -> None:
        for entities in results:
            for entity in entities:
                self._entities[entity.type].inc()


def route_label(path: str) -> str:
    if path in ROUTES:
        return path
    return "/static" if path.startswith("/static/") else "other"


class MetricsMiddleware:
    """Counts and times every HTTP request, including those inner middleware reject."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees when the app raises before responding

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics = self.metrics
        metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            metrics.in_flight.dec()
            labels = (route_label(scope["path"]), scope["method"], str(status))
            metrics.requests.labels(*labels).inc()
            metrics.latency.labels(*labels).observe(time.perf_counter() - started)
