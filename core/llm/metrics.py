"""Prometheus metrics of the LLM layer, registered on the process's registry by the composition
root (never at import time): latency, calls by outcome, tokens, cost, retries and grader errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


class LlmMetrics:
    """The LLM metric families; one instance per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.latency = Histogram(
            "curiouscore_llm_request_duration_seconds",
            "Time spent on one LLM task, retries and fallback included.",
            ["provider", "task"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.calls = Counter(
            "curiouscore_llm_calls_total",
            "LLM tasks by provider, task and outcome (ok, cache_hit, budget, fallback_*, offline).",
            ["provider", "task", "outcome"],
            registry=registry,
        )
        self.tokens = Counter(
            "curiouscore_llm_tokens_total",
            "Tokens sent to and received from LLM providers.",
            ["provider", "model", "direction"],
            registry=registry,
        )
        self.cost = Counter(
            "curiouscore_llm_cost_usd_total",
            "What LLM calls cost, in US dollars, from the configured price table.",
            ["provider", "model"],
            registry=registry,
        )
        self.retries = Counter(
            "curiouscore_llm_retries_total",
            "LLM requests retried after a rate limit, a server error or a timeout.",
            ["provider", "task", "reason"],
            registry=registry,
        )
        self.grader_errors = Counter(
            "curiouscore_llm_grader_errors_total",
            "Verdicts that could not be parsed or broke the schema (never counted as a pass).",
            ["provider", "model"],
            registry=registry,
        )
