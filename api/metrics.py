"""HTTP metrics on the process's registry (``services.registry``), labelled by route template.

A request records into plain Python objects (a bucket list, a float sum, integer counts) that a
collector on the registry turns into the same families prometheus_client's ``Histogram`` and
``Counter`` would expose — same names, HELP/TYPE lines, labels, buckets, ``_created`` samples and
values. Recording through prometheus_client takes a lock per value (the histogram's sum and
bucket, each counter) and checks its arguments: about 19k instructions a request under callgrind,
against about 5k here.

**Why no lock is needed.** ``HttpMetrics.observe`` is called only by ``RequestContextMiddleware``,
which runs on the event loop; one loop is one thread, and ``observe`` has no ``await``, so two
recordings never interleave. Nothing records these metrics off the loop (no executor, no
``to_thread``; endpoints run in the threadpool, but the middleware records after they return, on
the loop). A scrape (``/metrics``, the analytics ``request_stats``) may read from any thread: it
copies each table (``list(dict.items())``, atomic under the GIL) before iterating, so a new series
added meanwhile cannot break it, and at worst it sees a recording half done (the sum before its
bucket) — as with prometheus_client, whose locks are per value, not per observation.

**If something must record from another thread**, ``observe`` is not safe there (``+=`` on an
attribute is a read then a write; two threads can lose an increment): hand the call to the loop
(``loop.call_soon_threadsafe(metrics.observe, …)``) rather than calling it directly.

**Several workers.** Each worker process has its own registry and its own counts: a scrape reads
one worker's (``docs/deploy.md``, "Metrics"). The project does not use prometheus_client's
multi-process mode (``PROMETHEUS_MULTIPROC_DIR`` and its per-process files); these counts would
not be in those files.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Gauge, Metric
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.registry import Collector
from prometheus_client.utils import INF, floatToGoString

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "<unmatched>"

LATENCY = "curiouscore_http_request_duration_seconds"
LATENCY_HELP = "Time to answer an HTTP request, by route template."
REQUESTS = "curiouscore_http_requests"  # a counter family's name; its samples end in _total
REQUESTS_HELP = "HTTP requests answered, by route template and status."
ERRORS = "curiouscore_http_errors"
ERRORS_HELP = "HTTP responses with status 400 or above, by route template and status."

# The histogram's upper bounds as prometheus_client keeps them (floats, +Inf last) and their
# ``le`` labels (formatted by the function Histogram uses; it is not annotated).
_BOUNDS = (*(float(bound) for bound in LATENCY_BUCKETS), INF)
_LE: tuple[str, ...] = tuple(floatToGoString(bound) for bound in _BOUNDS)  # type: ignore[no-untyped-call]


class _Latency:
    """One (method, route) histogram: per-bucket counts (not cumulative) and the sum."""

    __slots__ = ("buckets", "created", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * len(_BOUNDS)
        self.sum = 0.0
        self.created = time.time()


class _Count:
    """One (method, route, status) counter."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0
        self.created = time.time()


# One request's series: its latency histogram, its request counter, its error counter (or None).
_Series = tuple[_Latency, _Count, _Count | None]


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # Insertion-ordered, as prometheus_client's children: the exposition lists series in the
        # order they were first recorded.
        self._latency: dict[tuple[str, str], _Latency] = {}
        self._requests: dict[tuple[str, str, str], _Count] = {}
        self._errors: dict[tuple[str, str, str], _Count] = {}
        self._series: dict[tuple[str, str, int], _Series] = {}
        registry.register(_HttpCollector(self))
        # A plain count the gauge reads when scraped: a request pays for an addition, not for two
        # locked updates of the gauge.
        self.in_progress_now = 0
        self.in_progress = Gauge(
            "curiouscore_http_requests_in_progress",
            "HTTP requests being answered now.",
            registry=registry,
        )
        self.in_progress.set_function(lambda: self.in_progress_now)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request. Call it on the event loop only (module docstring)."""
        series = self._series.get((method, route, status))
        if series is None:
            series = self._new_series(method, route, status)
        latency, requests, errors = series
        latency.sum += seconds
        # The first bucket whose bound is >= seconds, as Histogram.observe picks it.
        latency.buckets[bisect_left(_BOUNDS, seconds)] += 1
        requests.value += 1
        if errors is not None:
            errors.value += 1

    def _new_series(self, method: str, route: str, status: int) -> _Series:
        latency = self._latency.get((method, route))
        if latency is None:
            latency = self._latency[(method, route)] = _Latency()
        key = (method, route, str(status))
        requests = self._requests[key] = _Count()
        errors = None
        if status >= 400:
            errors = self._errors[key] = _Count()
        series = self._series[(method, route, status)] = (latency, requests, errors)
        return series

    def families(self) -> list[Metric]:
        """The three families as prometheus_client's Histogram and Counters would collect them."""
        created = prometheus_metrics._use_created  # PROMETHEUS_DISABLE_CREATED_SERIES, as theirs
        latency = Metric(LATENCY, LATENCY_HELP, "histogram")
        for (method, route), histogram in list(self._latency.items()):
            labels = {"method": method, "route": route}
            total = 0.0
            for le, in_bucket in zip(_LE, list(histogram.buckets), strict=True):
                total += in_bucket
                latency.add_sample(f"{LATENCY}_bucket", {**labels, "le": le}, total)
            latency.add_sample(f"{LATENCY}_count", labels, total)
            latency.add_sample(f"{LATENCY}_sum", labels, histogram.sum)
            if created:
                latency.add_sample(f"{LATENCY}_created", labels, histogram.created)
        requests = Metric(REQUESTS, REQUESTS_HELP, "counter")
        errors = Metric(ERRORS, ERRORS_HELP, "counter")
        for family, counts in ((requests, self._requests), (errors, self._errors)):
            for (method, route, status), count in list(counts.items()):
                labels = {"method": method, "route": route, "status": status}
                family.add_sample(f"{family.name}_total", labels, float(count.value))
                if created:
                    family.add_sample(f"{family.name}_created", labels, count.created)
        return [latency, requests, errors]


class _HttpCollector(Collector):
    """Exposes an ``HttpMetrics``'s counts on a registry (prometheus_client's Collector)."""

    def __init__(self, metrics: HttpMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        """The families without samples: the registry checks their names for clashes."""
        return [
            Metric(LATENCY, LATENCY_HELP, "histogram"),
            Metric(REQUESTS, REQUESTS_HELP, "counter"),
            Metric(ERRORS, ERRORS_HELP, "counter"),
        ]

    def collect(self) -> Iterable[Metric]:
        return self._metrics.families()


_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, HttpMetrics] = WeakKeyDictionary()


def http_metrics(registry: CollectorRegistry) -> HttpMetrics:
    """The HTTP metrics of ``registry`` (created once, so several apps may share services)."""
    metrics = _BY_REGISTRY.get(registry)
    if metrics is None:
        metrics = _BY_REGISTRY[registry] = HttpMetrics(registry)
    return metrics
