"""System metrics for the admin analytics: HTTP latency and error rate, LLM latency and success.

HTTP figures come from the API's Prometheus metrics on the process's registry
(``curiouscore_http_request_duration_seconds``, ``curiouscore_http_requests_total``,
``curiouscore_http_errors_total``): they cover this process since it started, and the percentiles
are **estimates** interpolated linearly inside histogram buckets, as PromQL's
``histogram_quantile`` does (a quantile in the last, unbounded bucket reads as the highest finite
bound). A registry with no request yet gives nulls. LLM figures are **exact**, from the
``llm_usage`` ledger (every call that reached a provider, all processes, all time): nearest-rank
percentiles of ``latency_ms`` and the share of rows with ``ok``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

HTTP_LATENCY = "curiouscore_http_request_duration_seconds"
HTTP_REQUESTS = "curiouscore_http_requests_total"
HTTP_ERRORS = "curiouscore_http_errors_total"
QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Latency percentiles in milliseconds (None when nothing was measured)."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RequestStats:
    """HTTP requests answered by this process; ``latency`` is estimated from histogram buckets."""

    requests: int
    errors: int
    error_rate: float | None
    latency: Percentiles
    # the same errors apart: 5xx are ours, 4xx are the client's (a wrong password, a bad answer)
    server_errors: int = 0
    server_error_rate: float | None = None
    client_errors: int = 0
    client_error_rate: float | None = None


@dataclass(frozen=True, slots=True)
class LlmStats:
    """LLM calls in the usage ledger; ``latency`` is exact (nearest rank)."""

    calls: int
    failures: int
    success_rate: float | None
    latency: Percentiles


@dataclass(frozen=True, slots=True)
class SystemStats:
    requests: RequestStats
    llm: LlmStats


def request_stats(registry: CollectorRegistry | None) -> RequestStats:
    """Given the process's registry (or None), return its HTTP request figures."""
    buckets: defaultdict[float, float] = defaultdict(float)
    requests = errors = server = 0.0
    for family in registry.collect() if registry is not None else ():
        for sample in family.samples:
            if sample.name == f"{HTTP_LATENCY}_bucket":
                buckets[float(sample.labels["le"])] += sample.value
            elif sample.name == HTTP_REQUESTS:
                requests += sample.value
            elif sample.name == HTTP_ERRORS:
                errors += sample.value
                if str(sample.labels.get("status", "")).startswith("5"):
                    server += sample.value
    cumulative = sorted(buckets.items())
    p50, p95, p99 = (_ms(histogram_quantile(q, cumulative)) for q in QUANTILES)
    latency = Percentiles(p50, p95, p99)
    return RequestStats(
        requests=int(requests),
        errors=int(errors),
        error_rate=round(errors / requests, 4) if requests else None,
        latency=latency,
        server_errors=int(server),
        server_error_rate=round(server / requests, 4) if requests else None,
        client_errors=int(errors - server),
        client_error_rate=round((errors - server) / requests, 4) if requests else None,
    )


def histogram_quantile(q: float, cumulative: Sequence[tuple[float, float]]) -> float | None:
    """Estimate quantile ``q`` from cumulative ``(upper_bound, count)`` buckets, ascending, the
    last bound ``+Inf``: linear interpolation inside the bucket holding the rank, from 0 for the
    first bucket; the highest finite bound when the rank falls in the ``+Inf`` bucket."""
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    rank = q * cumulative[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def llm_stats(outcomes: Sequence[tuple[int, bool]]) -> LlmStats:
    """Given every ledger row's ``(latency_ms, ok)`` sorted by latency, return the LLM figures."""
    calls = len(outcomes)
    failures = sum(1 for _, ok in outcomes if not ok)
    latencies = [float(ms) for ms, _ in outcomes]
    return LlmStats(
        calls=calls,
        failures=failures,
        success_rate=round((calls - failures) / calls, 4) if calls else None,
        latency=Percentiles(*[nearest_rank(q, latencies) for q in QUANTILES]),
    )


def nearest_rank(q: float, ordered: Sequence[float]) -> float | None:
    """The nearest-rank ``q`` quantile of ``ordered`` (ascending): its ``ceil(q*n)``-th value."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
