"""The system clock's text: ISO-8601 UTC with milliseconds, the date formatted once a second."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from core.service.clock import SystemClock


def test_now_reads_as_datetime_formats_it() -> None:
    clock = SystemClock()
    before = datetime.now(UTC)
    text = clock.now()
    after = datetime.now(UTC)
    assert len(text) == len(after.isoformat(timespec="milliseconds"))
    read = datetime.fromisoformat(text)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= read <= after


def test_each_second_and_millisecond_is_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SystemClock()
    readings = iter(
        [
            1_767_225_599_000_500_000,  # 2025-12-31T23:59:59.000500
            1_767_225_599_999_999_999,
            1_767_225_600_000_000_000,  # the next second, the next day and year
            1_767_225_600_042_000_001,
        ]
    )
    monkeypatch.setattr(time, "time_ns", lambda: next(readings))
    assert [clock.now() for _ in range(4)] == [
        "2025-12-31T23:59:59.000+00:00",
        "2025-12-31T23:59:59.999+00:00",
        "2026-01-01T00:00:00.000+00:00",
        "2026-01-01T00:00:00.042+00:00",
    ]
