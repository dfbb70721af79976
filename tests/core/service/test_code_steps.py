"""Code steps through the real service: the run is pending work, recorded once in AnswerGraded."""

from __future__ import annotations

import asyncio

import pytest

from core.bootstrap import build_services
from core.config import Settings
from core.engine import UiMode
from core.errors import InvalidAnswer, RateLimited
from core.sandbox.models import CodeJob, RunResult, SandboxUnavailable, TestOutcome
from core.service.actor import Actor
from core.service.clock import FixedClock
from core.service.code_runs import CodeRunnerUnavailable
from core.store import InMemoryStore
from tests.core.service.conftest import quiz

ADA = Actor("ada")
CODE_STEP = {
    "id": "double",
    "type": "code",
    "language": "python",
    "title": "Double it",
    "prompt": "Write `double(x)`.",
    "points": 30,
    "starter": "def double(x):\n    ...",
    "solution": "def double(x):\n    return 2 * x",
    "tests": [
        {"id": "two", "points": 10, "code": "assert double(2) == 4, 'double(2) should be 4'"},
        {"id": "neg", "points": 10, "code": "assert double(-1) == -2"},
        {"id": "secret", "points": 10, "code": "assert double(0) == 0", "hidden": True},
    ],
    "hints": ["Multiply."],
}


class FakeRunner:
    """A real runner object for tests: passes a test when the code contains ``return 2 * x``,
    counts its runs, and can be made slow or unavailable."""

    name = "fake"

    def __init__(self) -> None:
        self.runs: list[CodeJob] = []
        self.available = True
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def check(self) -> None:
        if not self.available:
            raise SandboxUnavailable(
                "bubblewrap is missing: install it (apt-get install bubblewrap)"
            )

    async def run(self, job: CodeJob) -> RunResult:
        self.runs.append(job)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        good = "return 2 * x" in job.code
        tests = tuple(
            TestOutcome(t.id, good, "" if good else "double(2) should be 4", "hi\n")
            for t in job.tests
        )
        return RunResult(tests, "ok", 42, self.name)


async def make(runner: FakeRunner):
    settings = Settings(database_url="memory://", code_trial_runs_per_minute=3)
    services = await build_services(
        settings, store=InMemoryStore(), clock=FixedClock(), code_runner=runner
    )
    challenge = quiz(steps=[{"id": "welcome", "type": "gate", "title": "Hi"}, CODE_STEP])
    await services.catalog.publish(challenge, at="2026-01-01T00:00:00+00:00")
    await services.learners.ensure_learner("ada", "Ada")
    view = await services.game.create_session(ADA, "quiz")
    view = await services.game.start_session(ADA, view.session_id)
    view = await services.game.continue_gate(ADA, view.session_id, "welcome")
    return services, view


async def test_code_step_view_shows_starter_and_visible_tests_only() -> None:
    services, view = await make(FakeRunner())
    assert view.ui_mode is UiMode.CODE
    code = view.step.code
    assert code.language == "python" and code.starter.startswith("def double")
    assert [(t.id, t.hidden, t.code is None) for t in code.tests] == [
        ("two", False, False),
        ("neg", False, False),
        ("secret", True, True),
    ]
    assert view.step.attempts_left == 5
    await services.close()


async def test_a_failing_answer_scores_per_test_and_hides_hidden_details() -> None:
    runner = FakeRunner()
    services, view = await make(runner)
    view = await services.game.submit_answer(
        ADA, view.session_id, "double", "def double(x):\n    return x"
    )
    feedback = view.transcript[-1]
    assert feedback.kind == "feedback" and feedback.score == 0 and not feedback.passed
    items = {i.id: i for i in feedback.items}
    assert "double(2) should be 4" in items["two"].feedback and "hi" in items["two"].feedback
    assert items["secret"].feedback == "Failed. (hidden test)"
    assert view.step.attempts_left == 4
    events = await services.game.session_events(ADA, view.session_id)
    graded = [e for e in events if e.type == "AnswerGraded"][-1]
    assert graded.data["code_run"] == {
        "sandbox": "fake",
        "status": "ok",
        "duration_ms": 42,
        "language": "python",
    }
    assert graded.data["grader"] == "sandbox:fake"
    assert len(runner.runs) == 1 and len(runner.runs[0].tests) == 3
    await services.close()


async def test_a_passing_answer_earns_every_test_and_completes() -> None:
    services, view = await make(FakeRunner())
    view = await services.game.submit_answer(
        ADA, view.session_id, "double", "def double(x):\n    return 2 * x"
    )
    assert view.ui_mode is UiMode.COMPLETED and view.result.score == 30
    await services.close()


async def test_a_retried_request_never_runs_the_code_twice() -> None:
    runner = FakeRunner()
    runner.gate = asyncio.Event()
    services, view = await make(runner)
    code = "def double(x):\n    return 2 * x"
    first = asyncio.create_task(
        services.game.submit_answer(ADA, view.session_id, "double", code, idempotency_key="k1")
    )
    await runner.started.wait()
    # The client times out and retries with the same key, and a page reload reads the session.
    retry = asyncio.create_task(
        services.game.submit_answer(ADA, view.session_id, "double", code, idempotency_key="k1")
    )
    reader = asyncio.create_task(services.game.get_view(ADA, view.session_id))
    for _ in range(100):  # let both reach the pending run (no timing: only loop turns)
        await asyncio.sleep(0)
    runner.gate.set()
    views = await asyncio.gather(first, retry, reader)
    assert len(runner.runs) == 1
    assert all(v.ui_mode is UiMode.COMPLETED for v in views)
    again = await services.game.submit_answer(
        ADA, view.session_id, "double", code, idempotency_key="k1"
    )
    assert again.ui_mode is UiMode.COMPLETED and len(runner.runs) == 1
    events = await services.game.session_events(ADA, view.session_id)
    assert [e.type for e in events].count("AnswerGraded") == 1
    await services.close()


async def test_unavailable_sandbox_refuses_before_spending_an_attempt() -> None:
    runner = FakeRunner()
    runner.available = False
    services, view = await make(runner)
    with pytest.raises(CodeRunnerUnavailable, match="apt-get install bubblewrap"):
        await services.game.submit_answer(
            ADA, view.session_id, "double", "def double(x): return 2 * x"
        )
    view = await services.game.get_view(ADA, view.session_id)
    assert view.step.attempts_left == 5 and not view.step.awaiting_grade
    await services.close()


async def test_empty_or_non_text_code_is_rejected() -> None:
    services, view = await make(FakeRunner())
    with pytest.raises(InvalidAnswer, match="empty"):
        await services.game.submit_answer(ADA, view.session_id, "double", "   ")
    with pytest.raises(InvalidAnswer, match="as text"):
        await services.game.submit_answer(ADA, view.session_id, "double", 3)
    await services.close()


async def test_trial_runs_visible_tests_only_records_nothing_and_is_rate_limited() -> None:
    runner = FakeRunner()
    services, view = await make(runner)
    before = len(await services.game.session_events(ADA, view.session_id))
    trial = await services.game.try_code(
        ADA, view.session_id, "double", "def double(x): return 2 * x"
    )
    assert [t.id for t in trial.tests] == ["two", "neg"] and all(t.passed for t in trial.tests)
    assert len(await services.game.session_events(ADA, view.session_id)) == before
    assert (await services.game.get_view(ADA, view.session_id)).step.attempts_left == 5
    await services.game.try_code(ADA, view.session_id, "double", "x = 1")
    await services.game.try_code(ADA, view.session_id, "double", "x = 1")
    with pytest.raises(RateLimited):
        await services.game.try_code(ADA, view.session_id, "double", "x = 1")
    await services.close()


async def test_hints_work_on_a_code_step_and_never_show_hidden_tests() -> None:
    runner = FakeRunner()
    services, view = await make(runner)
    view = await services.game.request_hint(ADA, view.session_id, "double")
    assert view.transcript[-1].kind == "hint" and view.transcript[-1].text == "Multiply."
    assert view.transcript[-1].source == "authored"
    view = await services.game.request_hint(ADA, view.session_id, "double")
    generated = view.transcript[-1]
    assert generated.kind == "hint" and generated.source == "offline" and generated.text
    assert "double(0)" not in generated.text and "return 2 * x" not in generated.text
    assert view.step is not None and view.step.hints_left == 0
    view = await services.game.submit_answer(
        ADA, view.session_id, "double", "def double(x):\n    return 2 * x"
    )
    assert view.ui_mode is UiMode.COMPLETED and len(runner.runs) == 1
    await services.close()
