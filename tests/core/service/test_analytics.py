"""Admin analytics as a projection over the event log."""

from __future__ import annotations

import pytest

from core.engine.events import HintGiven, LlmTrace, SessionCreated, encode
from core.errors import Forbidden
from core.service.actor import Actor
from core.store import NewEvent
from tests.core.service.conftest import ADA, BOB

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
    services.analytics.rebuild()
    rebuilt = await services.analytics.report(ADMIN)
    assert rebuilt.events == resumed.events
    assert (rebuilt.completions, rebuilt.passed, rebuilt.challenges) == (
        resumed.completions,
        resumed.passed,
        resumed.challenges,
    )
