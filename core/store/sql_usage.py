"""The LLM usage ledger on SQL (table ``llm_usage``, created by migration 0002)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, insert, select

from core.store.sql_base import SqlStoreBase
from core.store.tables import llm_usage
from core.store.usage import DailyUsage, UsageRecord, UsageTotals


class SqlUsage(SqlStoreBase):
    """:class:`~core.store.usage.UsageStore` on SQLite or PostgreSQL."""

    async def record_usage(self, record: UsageRecord) -> None:
        """Append one ledger row."""
        statement = insert(llm_usage).values(
            learner_id=record.learner_id,
            session_id=record.session_id,
            day=record.day,
            task=record.task,
            provider=record.provider,
            model=record.model,
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            cost_usd=record.cost_usd,
            latency_ms=record.latency_ms,
            ok=record.ok,
            provisional=record.provisional,
            created_at=record.created_at,
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def usage_totals(
        self,
        *,
        learner_id: str | None = None,
        session_id: str | None = None,
        day: str | None = None,
    ) -> UsageTotals:
        """Sum the rows matching every filter given (none: the whole ledger)."""
        conditions: list[ColumnElement[bool]] = []
        if learner_id is not None:
            conditions.append(llm_usage.c.learner_id == learner_id)
        if session_id is not None:
            conditions.append(llm_usage.c.session_id == session_id)
        if day is not None:
            conditions.append(llm_usage.c.day == day)
        query = _sums().where(*conditions)
        async with self._transaction() as connection:
            row = (await connection.execute(query)).one()
        return _totals(row)

    async def usage_by_day(
        self, *, learner_id: str | None = None, since_day: str | None = None
    ) -> list[DailyUsage]:
        """Per-day sums (oldest first), optionally for one learner and from ``since_day`` on."""
        query = _sums(llm_usage.c.day).group_by(llm_usage.c.day).order_by(llm_usage.c.day)
        if learner_id is not None:
            query = query.where(llm_usage.c.learner_id == learner_id)
        if since_day is not None:
            query = query.where(llm_usage.c.day >= since_day)
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [DailyUsage(row.day, _totals(row)) for row in rows]

    async def usage_outcomes(self) -> list[tuple[int, bool]]:
        """Every row's ``(latency_ms, ok)``, fastest first (for exact latency percentiles)."""
        query = select(llm_usage.c.latency_ms, llm_usage.c.ok).order_by(
            llm_usage.c.latency_ms, llm_usage.c.ok
        )
        async with self._transaction(replica=True) as connection:
            rows = (await connection.execute(query)).all()
        return [(int(row.latency_ms), bool(row.ok)) for row in rows]


def _sums(*columns: Any) -> Select[Any]:
    return select(
        *columns,
        func.count().label("calls"),
        func.coalesce(func.sum(llm_usage.c.tokens_in), 0).label("tokens_in"),
        func.coalesce(func.sum(llm_usage.c.tokens_out), 0).label("tokens_out"),
        func.coalesce(func.sum(llm_usage.c.cost_usd), 0.0).label("cost_usd"),
        func.coalesce(func.sum(case((llm_usage.c.ok.is_(False), 1), else_=0)), 0).label("failures"),
    ).select_from(llm_usage)


def _totals(row: Any) -> UsageTotals:
    return UsageTotals(
        calls=int(row.calls),
        tokens_in=int(row.tokens_in),
        tokens_out=int(row.tokens_out),
        cost_usd=round(float(row.cost_usd), 8),
        failures=int(row.failures),
    )
