"""Time and ids, injected so the service is testable and the engine stays deterministic."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> str:
        """The current time as ISO-8601 UTC with milliseconds."""
        ...


class SystemClock:
    """The system's UTC time. A request reads it several times (the command, the append): the
    date and time down to the second are formatted once per second, only the milliseconds each
    time; the text is what ``datetime.now(UTC).isoformat(timespec="milliseconds")`` gives."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")  # one attribute: swapped whole, never torn

    def now(self) -> str:
        second, rest = divmod(time.time_ns(), 1_000_000_000)
        known, prefix = self._second
        if second != known:
            prefix = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")[:-6]
            self._second = (second, prefix)
        return f"{prefix}.{rest // 1_000_000:03d}+00:00"


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
