"""Representative session views, built directly from the engine's dataclasses, for the test that
pins their JSON bytes (``test_view_bytes.py``): every step kind and UI mode, every transcript
kind and answer shape, feedback with each verdict, a finished session with its breakdown and
suggestion, code steps, non-ASCII and control characters, Markdown, and floats across the ranges
where their text changes form."""

from __future__ import annotations

import dataclasses

from core.engine.challenge import StepKind
from core.engine.events import ItemResult
from core.engine.state import Status, TranscriptEntry
from core.engine.view import (
    CodeTestView,
    CodeView,
    FeedbackView,
    NextChallengeView,
    OptionFeedback,
    Outcome,
    Progress,
    ResultView,
    SessionView,
    StepResultView,
    StepView,
    UiMode,
    Verdict,
)

AT = "2026-01-02T03:04:05.678+00:00"
ODD = 'Quotes " and \\ back\\slash, tab\t, line\nbreak, \x00 \x01 \x1f \x7f, \u2028 \u2029'
UNICODE = "Café — naïve façade, 中文, emoji 🐍🎉, RTL שלום, combining e\u0301"
MARKDOWN = (
    "## Functions\n\nA **function** has a *name*, `parameters` and a body:\n\n"
    '```python\ndef greet(name):\n    return f"Hi {name}"\n```\n\n'
    "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n<script>alert(1)</script> [link](https://example.com)\n"
)


def _step(kind: StepKind, **changes: object) -> StepView:
    step = StepView(
        id=f"step-{kind.value}",
        index=1,
        kind=kind,
        title=f"A {kind.value} step — “quoted”",
        body=MARKDOWN,
        prompt="Pick **one**:",
        choices=("`def`", "*lambda*", UNICODE) if kind in {StepKind.MCQ, StepKind.MULTI} else (),
        points=10,
        available=7.5,
        attempts_used=1,
        attempts_left=2,
        hints_left=1,
        awaiting_grade=False,
        awaiting_hint=False,
        available_shown=8,
    )
    return dataclasses.replace(step, **changes)


def _entries() -> tuple[TranscriptEntry, ...]:
    return (
        TranscriptEntry("narration", "welcome", MARKDOWN, AT, source="authored", seq=1),
        TranscriptEntry("answer", "pick", "1", AT, choice=1, seq=2),
        TranscriptEntry(
            "feedback",
            "pick",
            "Not quite: " + UNICODE,
            AT,
            source="offline",
            score=0.0,
            max_points=10,
            passed=False,
            available=10.0,
            seq=3,
        ),
        TranscriptEntry("hint", "pick", "Think of `def`.", AT, source="llm", seq=4),
        TranscriptEntry("answer", "several", "0, 2", AT, choice=(0, 2), seq=5),
        TranscriptEntry("answer", "truth", "true", AT, choice=True, seq=6),
        TranscriptEntry("answer", "falsity", "false", AT, choice=False, seq=7),
        TranscriptEntry("answer", "explain", ODD + "\n\nSecond <b>paragraph</b>.", AT, seq=8),
        TranscriptEntry(
            "feedback",
            "explain",
            "Mostly right.",
            AT,
            source="llm",
            score=6.666666666666667,
            max_points=10,
            passed=True,
            items=(
                ItemResult("names", 3.3333333333333335, 5, "Named *well*."),
                ItemResult("reuse", 0.1, 5, ""),
                ItemResult("tiny", 1e-05, 1, UNICODE),
            ),
            flags=("off_topic", "ünïcode"),
            provisional=True,
            available=9.5,
            seq=9,
        ),
        TranscriptEntry("explanation", "explain", "Because " + ODD, AT, seq=10),
        TranscriptEntry("review", "explain", "Teacher says: **fine** " + UNICODE, AT, seq=11),
        TranscriptEntry("narration", "end", "", AT, seq=12),
    )


def _feedback() -> tuple[FeedbackView, ...]:
    return (
        FeedbackView(
            "pick",
            AT,
            Outcome.WRONG,
            0,
            10,
            0,
            0,
            options=(
                OptionFeedback(0, "`def`", False, Verdict.MISSED, "The keyword."),
                OptionFeedback(1, "*lambda*", True, Verdict.WRONG, "Anonymous " + UNICODE),
                OptionFeedback(2, UNICODE, False, Verdict.NOT_SHOWN, None),
            ),
        ),
        FeedbackView(
            "several",
            AT,
            Outcome.PARTLY,
            5,
            10,
            5,
            2,
            options=(
                OptionFeedback(0, "a", True, Verdict.RIGHT, ODD),
                OptionFeedback(1, "b", False, Verdict.NOT_SHOWN, None),
            ),
            missed_hidden=1,
        ),
        FeedbackView("explain", AT, Outcome.CORRECT, 7, 10, 10, 3),
    )


def _view(**changes: object) -> SessionView:
    view = SessionView(
        session_id="0b7c6a52-3f3e-4c55-9b52-6c1b1f0e8d11",
        challenge_id="quiz",
        challenge_version=3,
        title="Quiz — ünïcode",
        status=Status.ACTIVE,
        ui_mode=UiMode.MCQ_SINGLE,
        step=_step(StepKind.MCQ),
        transcript=_entries(),
        progress=Progress(2, 7, 12.5, 70, score_shown=13),
        result=None,
        version=14,
        created_at=AT,
        updated_at="2026-01-02T03:09:00.000+00:00",
        feedback=_feedback(),
        transcript_seq=12,
    )
    return dataclasses.replace(view, **changes)


def _result(*, suggested: bool) -> ResultView:
    return ResultView(
        passed=True,
        score=61.5,
        max_score=70,
        percent=87.86,
        xp_granted=120,
        passing_score=42,
        score_shown=62,
        percent_shown=88,
        steps=(
            StepResultView("welcome", 0, "Welcome", StepKind.GATE, 0.0, 0, 0, True, 1, 0, 0),
            StepResultView("pick", 1, "Pick — “one”", StepKind.MCQ, 7.5, 8, 10, True, 2, 1, 3),
            StepResultView("gone", 9, "gone", None, 1e-05, 0, 5, False, 0, 0, 0),
        ),
        next_challenge=(
            NextChallengeView("python-testing", "Testing — ünïcode", "intermediate", 25)
            if suggested
            else None
        ),
    )


def _code_step() -> StepView:
    return _step(
        StepKind.CODE,
        body=None,
        prompt="Write `add(a, b)`.",
        answer_max_chars=20_000,
        code=CodeView(
            "python",
            "def add(a, b):\n    ...\n",
            (
                CodeTestView("visible", 2, False, "assert add(1, 2) == 3"),
                CodeTestView("hidden", 3, True, None),
            ),
            2.5,
            128,
        ),
    )


def representative_views() -> list[tuple[str, SessionView]]:
    """(name, view) pairs, in a fixed order."""
    no_feedback = {"transcript": (), "feedback": (), "transcript_seq": 0}
    return [
        (
            "not started",
            _view(
                status=Status.CREATED,
                ui_mode=UiMode.NOT_STARTED,
                step=None,
                version=1,
                progress=Progress(0, 7, 0.0, 70),
                **no_feedback,
            ),
        ),
        (
            "gate",
            _view(
                ui_mode=UiMode.CONTINUE_GATE,
                step=_step(
                    StepKind.GATE,
                    prompt="",
                    points=0,
                    available=0.0,
                    attempts_used=0,
                    attempts_left=1,
                    hints_left=0,
                    available_shown=0,
                ),
            ),
        ),
        ("mcq", _view()),
        (
            "mcq awaiting a grade",
            _view(step=_step(StepKind.MCQ, awaiting_grade=True, awaiting_hint=True)),
        ),
        ("multi", _view(ui_mode=UiMode.MCQ_MULTI, step=_step(StepKind.MULTI))),
        (
            "true/false",
            _view(
                ui_mode=UiMode.TRUE_FALSE,
                step=_step(StepKind.TRUE_FALSE, choices=("True", "False")),
            ),
        ),
        (
            "chat",
            _view(
                ui_mode=UiMode.CHAT, step=_step(StepKind.CHAT, body=UNICODE, answer_max_chars=5_000)
            ),
        ),
        ("code", _view(ui_mode=UiMode.CODE, step=_code_step())),
        (
            "completed",
            _view(
                status=Status.COMPLETED,
                ui_mode=UiMode.COMPLETED,
                step=None,
                result=_result(suggested=False),
            ),
        ),
        (
            "completed with a suggestion",
            _view(
                status=Status.COMPLETED,
                ui_mode=UiMode.COMPLETED,
                step=None,
                result=_result(suggested=True),
            ),
        ),
        ("abandoned", _view(status=Status.ABANDONED, ui_mode=UiMode.ABANDONED, step=None)),
        (
            "floats",
            _view(
                step=_step(StepKind.MCQ, available=1e16),
                progress=Progress(3, 7, 123456789.125, 70, score_shown=3),
            ),
        ),
        (
            "small floats",
            _view(step=_step(StepKind.MCQ, available=0.0001), progress=Progress(3, 7, -0.0, 70)),
        ),
        (
            "odd text",
            _view(
                title=ODD,
                step=_step(StepKind.CHAT, title=ODD, body=ODD, prompt=ODD),
                ui_mode=UiMode.CHAT,
            ),
        ),
        (
            "an int where a float goes",
            _view(
                progress=Progress(3, 7, 5, 70),  # type: ignore[arg-type]
                step=_step(StepKind.MCQ, available=10),
            ),
        ),
    ]
