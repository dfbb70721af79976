"""HTTP metrics on the process's registry (``services.registry``), labelled by route template."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# One request's series: its latency histogram, its request counter, its error counter (or None).
_Series = tuple[Histogram, Counter, Counter | None]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "<unmatched>"


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            "curiouscore_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "curiouscore_http_requests_total",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.errors = Counter(
            "curiouscore_http_errors_total",
            "HTTP responses with status 400 or above, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        # A plain count the gauge reads when scraped: a request pays for an addition, not for two
        # locked updates of the gauge.
        self.in_progress_now = 0
        self.in_progress = Gauge(
            "curiouscore_http_requests_in_progress",
            "HTTP requests being answered now.",
            registry=registry,
        )
        self.in_progress.set_function(lambda: self.in_progress_now)
        # The labelled children, looked up once per (method, route, status): ``labels()`` takes a
        # lock and checks its arguments on every call.
        self._series: dict[tuple[str, str, int], _Series] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.latency.labels(method, route),
                self.requests.labels(method, route, str(status)),
                self.errors.labels(method, route, str(status)) if status >= 400 else None,
            )
        latency, requests, errors = series
        latency.observe(seconds)
        requests.inc()
        if errors is not None:
            errors.inc()


_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, HttpMetrics] = WeakKeyDictionary()


def http_metrics(registry: CollectorRegistry) -> HttpMetrics:
    """The HTTP metrics of ``registry`` (created once, so several apps may share services)."""
    metrics = _BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = _BY_REGISTRY[registry] = HttpMetrics(registry)
    return metrics
