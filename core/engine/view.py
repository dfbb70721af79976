"""The session view: the declarative, platform-neutral UI every channel renders (PRODUCT §4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.engine.challenge import ChallengeSpec, CodeSpec, StepKind
from core.engine.plain import to_plain
from core.engine.scoring import round_points
from core.engine.state import SessionState, Status, TranscriptEntry


class UiMode(StrEnum):
    CONTINUE_GATE = "CONTINUE_GATE"
    MCQ_SINGLE = "MCQ_SINGLE"
    MCQ_MULTI = "MCQ_MULTI"
    TRUE_FALSE = "TRUE_FALSE"
    CHAT = "CHAT"
    CODE = "CODE"
    COMPLETED = "COMPLETED"
    # Extensions for the two states without a step to play.
    NOT_STARTED = "NOT_STARTED"
    ABANDONED = "ABANDONED"


UI_MODE_BY_KIND = {
    StepKind.GATE: UiMode.CONTINUE_GATE,
    StepKind.MCQ: UiMode.MCQ_SINGLE,
    StepKind.MULTI: UiMode.MCQ_MULTI,
    StepKind.TRUE_FALSE: UiMode.TRUE_FALSE,
    StepKind.CHAT: UiMode.CHAT,
    StepKind.CODE: UiMode.CODE,
}


@dataclass(frozen=True, slots=True)
class CodeTestView:
    """A test as the learner sees it: a hidden test's code is never sent."""

    id: str
    points: int
    hidden: bool
    code: str | None


@dataclass(frozen=True, slots=True)
class CodeView:
    language: str
    starter: str
    tests: tuple[CodeTestView, ...]
    time_limit_seconds: float
    memory_limit_mb: int


@dataclass(frozen=True, slots=True)
class StepView:
    id: str
    index: int
    kind: str
    title: str
    body: str | None
    prompt: str | None
    choices: tuple[str, ...]
    points: int
    available: float
    attempts_used: int
    attempts_left: int
    hints_left: int
    awaiting_grade: bool
    awaiting_hint: bool
    code: CodeView | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    step_index: int
    total_steps: int
    score: float
    max_score: int


@dataclass(frozen=True, slots=True)
class ResultView:
    passed: bool
    score: float
    max_score: int
    percent: float
    xp_granted: int
    passing_score: int


@dataclass(frozen=True, slots=True)
class SessionView:
    session_id: str
    challenge_id: str
    challenge_version: int
    title: str
    status: str
    ui_mode: UiMode
    step: StepView | None
    transcript: tuple[TranscriptEntry, ...]
    progress: Progress
    result: ResultView | None
    version: int
    created_at: str
    updated_at: str


def project_view(challenge: ChallengeSpec, state: SessionState) -> SessionView:
    """Return the view of ``state``; the challenge supplies the texts the events do not carry."""
    step_view = None
    if state.status is Status.COMPLETED:
        mode = UiMode.COMPLETED
    elif state.status is Status.ABANDONED:
        mode = UiMode.ABANDONED
    elif state.current is None:
        mode = UiMode.NOT_STARTED
    else:
        current = state.current
        spec = challenge.steps[current.index]
        mode = UI_MODE_BY_KIND[spec.kind]
        step_view = StepView(
            id=spec.id,
            index=current.index,
            kind=spec.kind.value,
            title=spec.title,
            body=spec.body,
            prompt=spec.prompt,
            choices=tuple(choice.text for choice in spec.choices),
            points=spec.points,
            available=current.available,
            attempts_used=current.attempts,
            attempts_left=current.attempts_left,
            hints_left=current.hints_left,
            awaiting_grade=current.pending_attempt is not None,
            awaiting_hint=current.pending_hint is not None,
            code=_code_view(spec.code) if spec.code is not None else None,
        )
    result = None
    if state.result is not None:
        r = state.result
        percent = round_points(100 * r.score / r.max_score) if r.max_score else 100.0
        result = ResultView(
            r.passed, r.score, r.max_score, percent, r.xp_granted, state.passing_score
        )
    return SessionView(
        session_id=state.session_id,
        challenge_id=state.challenge_id,
        challenge_version=state.challenge_version,
        title=state.title,
        status=state.status.value,
        ui_mode=mode,
        step=step_view,
        transcript=state.transcript,
        progress=Progress(state.step_index, state.total_steps, state.score, state.max_score),
        result=result,
        version=state.version,
        created_at=state.created_at,
        updated_at=state.updated_at,
    )


def _code_view(code: CodeSpec) -> CodeView:
    tests = tuple(
        CodeTestView(t.id, t.points, t.hidden, None if t.hidden else (t.code or t.setup or None))
        for t in code.tests
    )
    return CodeView(
        code.language, code.starter, tests, code.time_limit_seconds, code.memory_limit_mb
    )


def view_to_dict(view: SessionView) -> dict[str, Any]:
    """The view as JSON-able data: what every channel renders."""
    data: dict[str, Any] = to_plain(view)
    return data
