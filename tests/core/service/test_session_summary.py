"""The session-index row's status: each status's text, a plain ``str`` (what the stores bind)."""

from __future__ import annotations

from dataclasses import replace

from core.engine.state import Result, SessionState, Status, StepProgress
from core.service.sessions import session_summary
from core.store.base import SessionSummary


def test_every_status_is_written_as_its_text() -> None:
    for status in Status:
        summary = session_summary(SessionState(session_id="s", status=status))
        assert summary.status == status.value and type(summary.status) is str


def _by_keyword(state: SessionState) -> SessionSummary:
    """The row as it was built by keyword before it was built by position."""
    return SessionSummary(
        session_id=state.session_id,
        learner_id=state.learner_id,
        challenge_id=state.challenge_id,
        challenge_version=state.challenge_version,
        status=state.status.value,
        step_index=state.step_index,
        total_steps=state.total_steps,
        score=state.score,
        max_score=float(state.max_score),
        passed=state.result.passed if state.result else None,
        created_at=state.created_at,
        updated_at=state.updated_at,
    )


def test_the_row_built_by_position_is_the_row_built_by_keyword() -> None:
    base = SessionState(
        session_id="s",
        learner_id="l",
        challenge_id="c",
        challenge_version=3,
        status=Status.ACTIVE,
        total_steps=4,
        max_score=20,
        created_at="t0",
        updated_at="t1",
        score=7.5,
        steps_closed=2,
    )
    current = StepProgress("q", 2, "mcq", 10, 2, 0, False)
    for state in (
        base,
        replace(base, current=current),
        replace(base, status=Status.COMPLETED, result=Result(True, 17.5, 20, 40)),
        replace(base, status=Status.COMPLETED, result=Result(False, 7.5, 20, 0)),
    ):
        summary = session_summary(state)
        assert summary == _by_keyword(state)
        assert type(summary.max_score) is float
