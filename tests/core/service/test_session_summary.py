"""The session-index row's status: each status's text, a plain ``str`` (what the stores bind)."""

from __future__ import annotations

from core.engine.state import SessionState, Status
from core.service.sessions import session_summary


def test_every_status_is_written_as_its_text() -> None:
    for status in Status:
        summary = session_summary(SessionState(session_id="s", status=status))
        assert summary.status == status.value and type(summary.status) is str
