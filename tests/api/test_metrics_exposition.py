"""The HTTP metrics' own recording exposes exactly what prometheus_client's Histogram and Counters
would for the same requests: names, HELP/TYPE lines, labels, buckets, sums, ``_created``."""

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from api.metrics import LATENCY_BUCKETS, http_metrics

# (method, route, status, seconds): bounds exactly, between them, beyond the last, errors.
REQUESTS = [
    ("GET", "/api/challenges", 200, 0.005),
    ("GET", "/api/challenges", 200, 0.0049),
    ("POST", "/api/sessions", 201, 0.1),
    ("GET", "/api/sessions/{session_id}", 404, 0.30000000000000004),
    ("GET", "/api/challenges", 200, 42.0),
    ("GET", "/api/sessions/{session_id}", 200, 0.0),
    ("POST", "/api/sessions", 500, 30.0),
    ("GET", "<unmatched>", 404, 1e-7),
    ("GET", "/api/sessions/{session_id}", 404, 2.5),
    ("GET", "/api/challenges", 200, 0.012345),
]


def library_exposition() -> bytes:
    """What the metrics were as prometheus_client's own classes, fed the same requests."""
    registry = CollectorRegistry()
    latency = Histogram(
        "curiouscore_http_request_duration_seconds",
        "Time to answer an HTTP request, by route template.",
        ["method", "route"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    requests = Counter(
        "curiouscore_http_requests_total",
        "HTTP requests answered, by route template and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    errors = Counter(
        "curiouscore_http_errors_total",
        "HTTP responses with status 400 or above, by route template and status.",
        ["method", "route", "status"],
        registry=registry,
    )
    Gauge(
        "curiouscore_http_requests_in_progress",
        "HTTP requests being answered now.",
        registry=registry,
    ).set_function(lambda: 0)
    for method, route, status, seconds in REQUESTS:
        latency.labels(method, route).observe(seconds)
        requests.labels(method, route, str(status)).inc()
        if status >= 400:
            errors.labels(method, route, str(status)).inc()
    return generate_latest(registry)


def own_exposition() -> bytes:
    registry = CollectorRegistry()
    metrics = http_metrics(registry)
    for method, route, status, seconds in REQUESTS:
        metrics.observe(method, route, status, seconds)
    return generate_latest(registry)


def test_exposition_is_prometheus_clients_own(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.25)  # the _created samples
    own = own_exposition().decode()
    assert own == library_exposition().decode()
    assert 'le="0.005",method="GET",route="/api/challenges"} 2.0' in own  # a sanity check
