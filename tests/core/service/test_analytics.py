"""Admin analytics as a projection over the event log."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, Counter

from core.engine.events import HintGiven, LlmTrace, SessionCreated, encode
from core.errors import Forbidden
from core.service.actor import Actor
from core.service.analytics import CHECKPOINT
from core.service.system_metrics import (
    LlmStats,
    Percentiles,
    histogram_quantile,
    request_stats,
)
from core.store import NewEvent, open_store
from core.store.usage import UsageRecord
from tests.core.service.conftest import ADA, BOB, make_services

GOOD_ANSWER = "You can reuse a named block of logic."
ADMIN = Actor("root", "admin")


async def _play(services, actor, chat_answer, mcq=0):
    game = services.game
    view = await game.create_session(actor, "quiz")
    sid = view.session_id
    await game.start_session(actor, sid)
    await game.continue_gate(actor, sid, "welcome")
    await game.submit_answer(actor, sid, "pick", mcq)
    if mcq != 0:
        await game.submit_answer(actor, sid, "pick", mcq)
    await game.submit_answer(actor, sid, "truth", True)
    for _ in range(3):
        view = await game.submit_answer(actor, sid, "explain", chat_answer)
        if view.status == "completed":
            break
    return view


async def test_only_admins_see_analytics(services):
    with pytest.raises(Forbidden):
        await services.analytics.report(ADA)


async def test_completions_pass_rates_failed_steps_learners_xp_and_cost(services):
    passed = await _play(services, ADA, GOOD_ANSWER)
    failed = await _play(services, BOB, "I have no idea at all.", mcq=1)
    assert passed.result.passed and not failed.result.passed
    await services.game.create_session(BOB, "quiz")  # created, never finished
    trace = LlmTrace("anthropic", "claude", tokens_in=100, tokens_out=20, cost_usd=0.25)
    at = "2026-01-05T10:00:00.000+00:00"
    created = SessionCreated(at, "s-llm", "ada", "quiz", 1, "A small quiz", 4, 40, 70, 100)
    hint = HintGiven(at, "pick", 0, "Think.", "llm", 1.0, trace)
    await services.store.append(
        "s-llm",
        [NewEvent(e.NAME, encode(e), e.SCHEMA_VERSION) for e in (created, hint)],
        0,
        recorded_at=at,
    )

    report = await services.analytics.report(ADMIN)

    assert (report.sessions, report.completions, report.passed) == (4, 2, 1)
    assert report.pass_rate == 0.5 and report.learners == 2
    assert report.xp_granted == 100
    [quiz] = report.challenges
    assert (quiz.sessions, quiz.completed, quiz.passed, quiz.pass_rate) == (4, 2, 1, 0.5)
    assert quiz.average_minutes is not None and quiz.average_minutes > 0
    failed_steps = {
        (f.step_id, f.step_title): (f.failures, f.closed_failed) for f in report.most_failed_steps
    }
    assert failed_steps == {("explain", "Explain"): (3, 1), ("pick", "Pick"): (2, 1)}
    assert report.most_failed_steps[0].step_id == "explain"  # most failures first
    assert report.llm_cost_usd == 0.25 and report.llm_tokens_in >= 100
    assert report.llm_calls == 1  # the offline evaluator's graded answers are not LLM calls
    by_day = {d.day: d for d in report.llm_cost_per_day}
    assert by_day["2026-01-05"].cost_usd == 0.25
    assert sum(d.learners for d in report.daily_active_learners) >= 2
    assert report.events == sum(1 for _ in await services.store.read_all(0, 10_000))


async def test_the_projection_resumes_from_its_position_and_can_be_rebuilt(services):
    await _play(services, ADA, GOOD_ANSWER)
    first = await services.analytics.report(ADMIN)
    seen = services.analytics.position
    await _play(services, BOB, "I do not know.")
    resumed = await services.analytics.report(ADMIN)
    assert services.analytics.position > seen
    assert (first.sessions, resumed.sessions) == (1, 2)
    await services.analytics.rebuild()
    assert await services.store.load_checkpoint(CHECKPOINT) is None
    rebuilt = await services.analytics.report(ADMIN)
    assert services.analytics.last_read == rebuilt.events
    # The whole report, folded in one go or in two (only the clock moved on).
    assert replace(rebuilt, generated_at=resumed.generated_at) == resumed


async def test_the_checkpoint_survives_a_restart_and_the_next_report_resumes(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'analytics.db'}"
    first = await make_services(await open_store(url))
    await _play(first, ADA, GOOD_ANSWER)
    before = await first.analytics.report(ADMIN)
    assert first.analytics.last_read == before.events > 0
    checkpoint = await first.store.load_checkpoint(CHECKPOINT)
    assert checkpoint is not None and checkpoint.position == first.analytics.position
    await first.close()

    second = await make_services(await open_store(url))  # a new process over the same file
    try:
        same = await second.analytics.report(ADMIN)
        assert second.analytics.last_read == 0  # resumed from the checkpoint: nothing re-read
        assert replace(same, generated_at=before.generated_at) == before
        appended = await second.store.read_all(checkpoint.position, 10_000)
        assert appended == []
        await _play(second, BOB, "I do not know.")
        new_events = await second.store.read_all(checkpoint.position, 10_000)
        resumed = await second.analytics.report(ADMIN)
        assert second.analytics.last_read == len(new_events) > 0
        assert (resumed.sessions, resumed.events) == (2, before.events + len(new_events))
        await second.analytics.rebuild()
        rebuilt = await second.analytics.report(ADMIN)
        assert second.analytics.last_read == rebuilt.events
        assert replace(rebuilt, generated_at=resumed.generated_at) == resumed
    finally:
        await second.close()


async def test_llm_latency_percentiles_and_success_rate_come_from_the_usage_ledger(services):
    empty = (await services.analytics.report(ADMIN)).system
    assert empty.llm == LlmStats(0, 0, None, Percentiles(None, None, None))
    assert empty.requests.latency == Percentiles() and empty.requests.error_rate is None
    for latency, ok in ((100, True), (200, True), (300, True), (4000, False)):
        await services.store.record_usage(
            UsageRecord(
                "ada", None, "2026-01-05", "LEM_EVALUATE", "openai", "m", 10, 5, 0.01,
                latency, ok, not ok, "2026-01-05T10:00:00+00:00",
            )
        )  # fmt: skip
    llm = (await services.analytics.report(ADMIN)).system.llm
    assert (llm.calls, llm.failures, llm.success_rate) == (4, 1, 0.75)
    assert llm.latency == Percentiles(200.0, 4000.0, 4000.0)  # nearest rank


def test_request_percentiles_are_estimated_from_histogram_buckets():
    assert histogram_quantile(0.5, []) is None
    assert histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.5, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)  # from 0 in the first bucket
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.35)
    slow = [(0.1, 1.0), (math.inf, 10.0)]
    assert histogram_quantile(0.99, slow) == 0.1  # past the last finite bound: that bound


def test_request_stats_without_a_registry_or_samples_are_null():
    for registry in (None, CollectorRegistry()):
        stats = request_stats(registry)
        assert (stats.requests, stats.errors, stats.error_rate) == (0, 0, None)
        assert stats.latency == Percentiles()


def test_request_stats_keep_server_and_client_errors_apart():
    registry = CollectorRegistry()
    # the API's counters, by the names and labels api/metrics.py registers them with
    requests = Counter("curiouscore_http_requests", "r", ["status"], registry=registry)
    errors = Counter("curiouscore_http_errors", "e", ["status"], registry=registry)
    for status in (200, 200, 200, 200, 200, 200, 401, 422, 404, 500):
        requests.labels(str(status)).inc()
        if status >= 400:
            errors.labels(str(status)).inc()
    stats = request_stats(registry)
    assert (stats.requests, stats.errors) == (10, 4)
    assert (stats.server_errors, stats.server_error_rate) == (1, 0.1)
    assert (stats.client_errors, stats.client_error_rate) == (3, 0.3)
