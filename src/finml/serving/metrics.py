"""Prometheus metrics of one app, in the app's own ``CollectorRegistry`` (two apps in one
process, as in tests, never collide)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from finml.serving.log_writer import InferenceLogWriter
    from finml.serving.models import ModelSlots

_LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ServingMetrics:
    """Request counters and latency histogram, plus live state read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "finml_http_requests",
            "HTTP requests by route and status",
            ("route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "finml_http_request_seconds",
            "HTTP request latency by route",
            ("route",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "finml_predictions",
            "Records scored by variant and model version",
            ("variant", "version"),
            registry=self.registry,
        )
        # Labelled children by label values: ``labels()`` re-validates and locks on every
        # call, a cost paid on each request; the children themselves are thread-safe.
        self._by_route: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._by_variant: dict[tuple[str, int], Any] = {}

    def watch(self, slots: ModelSlots, writer: InferenceLogWriter) -> None:
        self.registry.register(_StateCollector(slots, writer))

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one request of ``route`` answered with ``status`` in ``seconds``."""
        children = self._by_route.get((route, status))
        if children is None:
            children = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._by_route[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_predictions(self, variant: str, version: int, records: int) -> None:
        """Count ``records`` scored by ``variant`` (model ``version``)."""
        child = self._by_variant.get((variant, version))
        if child is None:
            child = self._by_variant[(variant, version)] = self.predictions.labels(
                variant, str(version)
            )
        child.inc(records)


class _StateCollector(Collector):
    def __init__(self, slots: ModelSlots, writer: InferenceLogWriter) -> None:
        self.slots, self.writer = slots, writer

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        current = self.slots.current
        loaded = GaugeMetricFamily(
            "finml_model_version", "Loaded model version by alias", labels=["alias"]
        )
        loaded.add_metric(["champion"], current.champion.version)
        if current.challenger is not None:
            loaded.add_metric(["challenger"], current.challenger.version)
        yield loaded
        yield CounterMetricFamily("finml_model_swaps", "Hot swaps so far", self.slots.swaps)
        yield GaugeMetricFamily(
            "finml_inference_log_pending", "Rows buffered, not yet in Delta", self.writer.pending
        )
        for name, value, text in (
            ("written", self.writer.rows_written, "Rows appended to inference_log"),
            ("dropped", self.writer.rows_dropped, "Rows dropped (max_queue rows waiting)"),
            ("flush_errors", self.writer.flush_errors, "Failed flushes (retried)"),
            ("writer_restarts", self.writer.restarts, "Writer processes restarted after dying"),
        ):
            yield CounterMetricFamily(f"finml_inference_log_{name}", text, value)
