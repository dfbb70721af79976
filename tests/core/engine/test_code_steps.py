"""Code steps in the engine: a submission waits for its run; the run's report becomes points."""

from __future__ import annotations

from core.engine.challenge import CodeSpec, CodeTestSpec, StepKind
from core.engine.commands import CodeTestResult, RecordCodeRun, RequestHint, SubmitAnswer
from core.engine.events import AnswerGraded, AnswerSubmitted, CodeRunTrace, decode, encode
from core.engine.view import UiMode, project_view
from tests.core.engine.builders import AT, _scored, challenge, given, on_step, when

RUN = CodeRunTrace("bwrap", "ok", 120, "python")


def code_step(**kw):
    spec = CodeSpec(
        language="python",
        tests=(
            CodeTestSpec("a", 10, "assert f() == 1"),
            CodeTestSpec("b", 20, "assert f(2) == 2", hidden=True),
        ),
        solution="def f(x=1): return x",
        starter="def f(x=1): ...",
    )
    return _scored(
        "code",
        StepKind.CODE,
        points=30,
        max_attempts=None,
        pass_threshold=None,
        hints=("Return x.",),
        max_llm_hints=0,
        hint_cost=10,
        explanation="Return the argument.",
        narrate=False,
        code=spec,
        **kw,
    )


CH = challenge(code_step())


def submitted(code: str = "def f(x=1): return x") -> list:
    return [
        *on_step(CH, 0),
        AnswerSubmitted(at=AT, step_id="code", attempt=1, answer=code, display=code),
    ]


def test_a_code_answer_waits_for_its_run() -> None:
    events = when(
        CH, given(on_step(CH, 0)), SubmitAnswer(at=AT, step_id="code", answer="def f(): pass")
    )
    assert events == [
        AnswerSubmitted(
            at=AT, step_id="code", attempt=1, answer="def f(): pass", display="def f(): pass"
        )
    ]


def test_points_are_the_sum_of_passed_tests_and_hidden_tests_show_pass_fail_only() -> None:
    results = (
        CodeTestResult("a", False, "AssertionError", "printed"),
        CodeTestResult("b", True, "secret detail", "secret out"),
    )
    events = when(
        CH,
        given(submitted()),
        RecordCodeRun(at=AT, step_id="code", attempt=1, results=results, run=RUN),
    )
    graded = events[0]
    assert isinstance(graded, AnswerGraded)
    assert graded.score == 20 and not graded.passed and graded.grader == "sandbox:bwrap"
    assert graded.code_run == RUN
    a, b = graded.items
    assert a.points == 0 and "AssertionError" in a.feedback and "printed" in a.feedback
    assert b.points == 20 and b.feedback == "Passed. (hidden test)" and "secret" not in b.feedback
    assert graded.feedback == "1 of 2 tests passed."
    assert len(events) == 1  # 4 attempts left: the step stays open


def test_every_test_passing_closes_the_step_with_full_marks() -> None:
    results = (CodeTestResult("a", True), CodeTestResult("b", True))
    events = when(
        CH,
        given(submitted()),
        RecordCodeRun(at=AT, step_id="code", attempt=1, results=results, run=RUN),
    )
    assert events[0].score == 30 and events[0].passed
    assert [type(e).__name__ for e in events] == ["AnswerGraded", "StepClosed", "SessionCompleted"]


def test_a_missing_test_in_the_report_counts_as_failed() -> None:
    events = when(
        CH,
        given(submitted()),
        RecordCodeRun(
            at=AT, step_id="code", attempt=1, results=(CodeTestResult("a", True),), run=RUN
        ),
    )
    assert events[0].score == 10


def test_a_hint_lowers_what_a_code_step_can_earn() -> None:
    state = given(on_step(CH, 0))
    hint = when(CH, state, RequestHint(at=AT, step_id="code"))
    state = given(
        [
            *on_step(CH, 0),
            *hint,
            AnswerSubmitted(at=AT, step_id="code", attempt=1, answer="x", display="x"),
        ]
    )
    results = (CodeTestResult("a", True), CodeTestResult("b", True))
    events = when(
        CH, state, RecordCodeRun(at=AT, step_id="code", attempt=1, results=results, run=RUN)
    )
    assert events[0].score == 27 and events[0].passed


def test_the_graded_event_round_trips_through_storage() -> None:
    results = (CodeTestResult("a", True), CodeTestResult("b", False))
    graded = when(
        CH,
        given(submitted()),
        RecordCodeRun(at=AT, step_id="code", attempt=1, results=results, run=RUN),
    )[0]
    assert decode(graded.NAME, graded.SCHEMA_VERSION, encode(graded)) == graded


def test_the_view_is_code_mode_without_hidden_test_code() -> None:
    view = project_view(CH, given(on_step(CH, 0)))
    assert view.ui_mode is UiMode.CODE
    assert view.step.code.starter == "def f(x=1): ..."
    assert [(t.id, t.code) for t in view.step.code.tests] == [("a", "assert f() == 1"), ("b", None)]
