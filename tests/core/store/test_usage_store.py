"""The LLM usage ledger contract, on every store (in-memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.store.base import Store
from core.store.usage import DailyUsage, UsageRecord, UsageTotals


def _row(learner: str, session: str | None, day: str, cost: float, *, ok: bool = True):
    return UsageRecord(
        learner_id=learner,
        session_id=session,
        day=day,
        task="LEM_EVALUATE",
        provider="openai",
        model="gpt-4.1-mini-2025-04-14",
        tokens_in=1000,
        tokens_out=100,
        cost_usd=cost,
        latency_ms=250,
        ok=ok,
        provisional=not ok,
        created_at=f"{day}T10:00:00.000+00:00",
    )


async def test_usage_is_summed_per_session_learner_and_day(store: Store):
    assert await store.usage_totals() == UsageTotals()
    for row in (
        _row("ada", "s1", "2026-11-24", 0.01),
        _row("ada", "s1", "2026-11-25", 0.02),
        _row("ada", "s2", "2026-11-25", 0.03, ok=False),
        _row("bob", None, "2026-11-25", 0.5),
    ):
        await store.record_usage(row)

    assert await store.usage_totals(session_id="s1") == UsageTotals(2, 2000, 200, 0.03, 0)
    ada_today = await store.usage_totals(learner_id="ada", day="2026-11-25")
    assert (ada_today.calls, ada_today.failures) == (2, 1)
    assert ada_today.cost_usd == pytest.approx(0.05)
    assert (await store.usage_totals(day="2026-11-25")).calls == 3
    assert (await store.usage_totals()).cost_usd == pytest.approx(0.56)

    days = await store.usage_by_day()
    assert [d.day for d in days] == ["2026-11-24", "2026-11-25"]
    assert days[1].totals.cost_usd == pytest.approx(0.55)
    assert await store.usage_by_day(learner_id="bob") == [
        DailyUsage("2026-11-25", UsageTotals(1, 1000, 100, 0.5, 0))
    ]
    assert [d.day for d in await store.usage_by_day(since_day="2026-11-25")] == ["2026-11-25"]


async def test_usage_outcomes_are_every_rows_latency_and_ok_fastest_first(store: Store):
    assert await store.usage_outcomes() == []
    for latency, ok in ((900, True), (100, False), (400, True)):
        await store.record_usage(
            replace(_row("ada", None, "2026-01-01", 0.1, ok=ok), latency_ms=latency)
        )
    assert await store.usage_outcomes() == [(100, False), (400, True), (900, True)]
