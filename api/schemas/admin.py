"""Admin analytics (a projection over the event log) and system metrics."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import Out


class ChallengeStatsOut(Out):
    challenge_id: str
    title: str
    sessions: int
    completed: int
    passed: int
    pass_rate: float | None
    average_percent: float | None
    average_minutes: float | None


class StepFailuresOut(Out):
    challenge_id: str
    challenge_title: str
    step_id: str
    step_title: str
    failures: int
    closed_failed: int


class DayLearnersOut(Out):
    day: str
    learners: int


class DayCostOut(Out):
    day: str
    cost_usd: float
    calls: int


class DailyStatsOut(Out):
    day: str
    active_learners: int
    sessions_started: int
    completions: int
    xp_granted: int
    llm_calls: int
    llm_cost_usd: float


class PercentilesOut(Out):
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class RequestStatsOut(Out):
    """HTTP requests answered by this API process since it started (its Prometheus metrics);
    ``latency`` percentiles are estimates interpolated within histogram buckets."""

    requests: int
    errors: int
    error_rate: float | None
    latency: PercentilesOut
    server_errors: int = Field(0, description="5xx responses: the server's own failures")
    server_error_rate: float | None = None
    client_errors: int = Field(0, description="4xx responses: refused input, wrong passwords")
    client_error_rate: float | None = None


class LlmStatsOut(Out):
    """Every LLM call in the usage ledger; ``latency`` percentiles are exact (nearest rank)."""

    calls: int
    failures: int
    success_rate: float | None
    latency: PercentilesOut


class SystemStatsOut(Out):
    requests: RequestStatsOut
    llm: LlmStatsOut


class AnalyticsOut(Out):
    generated_at: str
    events: int
    learners: int
    sessions: int
    completions: int
    passed: int
    pass_rate: float | None
    xp_granted: int
    llm_calls: int
    llm_tokens_in: int
    llm_tokens_out: int
    llm_cost_usd: float
    challenges: list[ChallengeStatsOut]
    most_failed_steps: list[StepFailuresOut]
    daily_active_learners: list[DayLearnersOut]
    llm_cost_per_day: list[DayCostOut]
    daily: list[DailyStatsOut]
    system: SystemStatsOut
