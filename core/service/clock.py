"""Time and ids, injected so the service is testable and the engine stays deterministic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> str:
        """The current time as ISO-8601 UTC with milliseconds."""
        ...


class SystemClock:
    def now(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds")


class FixedClock:
    """A clock for tests: starts at ``start`` and advances ``step`` per reading."""

    def __init__(self, start: str = "2026-01-01T00:00:00+00:00", step_ms: int = 1000) -> None:
        self._now = datetime.fromisoformat(start)
        self._step = timedelta(milliseconds=step_ms)

    def now(self) -> str:
        value = self._now.isoformat(timespec="milliseconds")
        self._now += self._step
        return value


def new_id() -> str:
    return str(uuid.uuid4())
