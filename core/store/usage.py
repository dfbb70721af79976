"""The LLM usage ledger (table ``llm_usage``): one row per LLM task that reached a provider.

It answers "what did this session / learner / day cost?" and backs the per-learner daily budget. The
authoritative record of each graded outcome stays in the events; this ledger is a read model that
also covers narration and hints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One LLM task: who it was for, which model answered, tokens, cost and how it went."""

    learner_id: str
    session_id: str | None
    day: str  # YYYY-MM-DD, UTC
    task: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: int
    ok: bool
    provisional: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Sums over a set of ledger rows."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: str
    totals: UsageTotals


class UsageStore(Protocol):
    """Append-only LLM usage rows and their sums."""

    async def record_usage(self, record: UsageRecord) -> None:
        """Append one ledger row."""
        ...

    async def usage_totals(
        self,
        *,
        learner_id: str | None = None,
        session_id: str | None = None,
        day: str | None = None,
    ) -> UsageTotals:
        """Sum the rows matching every filter given (none: the whole ledger)."""
        ...

    async def usage_by_day(
        self, *, learner_id: str | None = None, since_day: str | None = None
    ) -> list[DailyUsage]:
        """Per-day sums (oldest first), optionally for one learner and from ``since_day`` on."""
        ...

    async def usage_outcomes(self) -> list[tuple[int, bool]]:
        """Every row's ``(latency_ms, ok)``, fastest first (for exact latency percentiles)."""
        ...


def add_up(rows: list[UsageRecord]) -> UsageTotals:
    """The totals of ``rows``."""
    return UsageTotals(
        calls=len(rows),
        tokens_in=sum(r.tokens_in for r in rows),
        tokens_out=sum(r.tokens_out for r in rows),
        cost_usd=round(sum(r.cost_usd for r in rows), 8),
        failures=sum(1 for r in rows if not r.ok),
    )


class InMemoryUsage:
    """:class:`UsageStore` in process memory (a mixin of the in-memory store)."""

    @property
    def _usage(self) -> list[UsageRecord]:
        # Created on first use so the host class needs no change to its __init__.
        try:
            return self._usage_rows_
        except AttributeError:
            self._usage_rows_: list[UsageRecord] = []
            return self._usage_rows_

    async def record_usage(self, record: UsageRecord) -> None:
        """Append one ledger row."""
        self._usage.append(record)

    async def usage_totals(
        self,
        *,
        learner_id: str | None = None,
        session_id: str | None = None,
        day: str | None = None,
    ) -> UsageTotals:
        """Sum the rows matching every filter given (none: the whole ledger)."""
        return add_up(
            [
                r
                for r in self._usage
                if (learner_id is None or r.learner_id == learner_id)
                and (session_id is None or r.session_id == session_id)
                and (day is None or r.day == day)
            ]
        )

    async def usage_by_day(
        self, *, learner_id: str | None = None, since_day: str | None = None
    ) -> list[DailyUsage]:
        """Per-day sums (oldest first), optionally for one learner and from ``since_day`` on."""
        days: dict[str, list[UsageRecord]] = {}
        for r in self._usage:
            if (learner_id is None or r.learner_id == learner_id) and (
                since_day is None or r.day >= since_day
            ):
                days.setdefault(r.day, []).append(r)
        return [DailyUsage(day, add_up(rows)) for day, rows in sorted(days.items())]

    async def usage_outcomes(self) -> list[tuple[int, bool]]:
        """Every row's ``(latency_ms, ok)``, fastest first (for exact latency percentiles)."""
        return sorted((r.latency_ms, r.ok) for r in self._usage)
