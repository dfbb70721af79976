"""What LLM calls cost, summed per session, per learner and per day (from the ``llm_usage`` ledger)."""

from __future__ import annotations

from core.service.actor import Actor
from core.store.usage import DailyUsage, UsageStore, UsageTotals


class UsageService:
    """Read-only sums over the LLM usage ledger."""

    def __init__(self, *, store: UsageStore, daily_budget_usd: float | None = None) -> None:
        self._store = store
        self.daily_budget_usd = daily_budget_usd

    async def for_session(self, session_id: str) -> UsageTotals:
        """Calls, tokens and cost spent on one session."""
        return await self._store.usage_totals(session_id=session_id)

    async def for_learner(self, learner_id: str, *, day: str | None = None) -> UsageTotals:
        """Calls, tokens and cost spent on one learner, in total or on ``day`` (YYYY-MM-DD)."""
        return await self._store.usage_totals(learner_id=learner_id, day=day)

    async def for_day(self, day: str) -> UsageTotals:
        """Calls, tokens and cost spent on ``day`` (YYYY-MM-DD, UTC) across all learners."""
        return await self._store.usage_totals(day=day)

    async def per_day(
        self, *, learner_id: str | None = None, since_day: str | None = None
    ) -> list[DailyUsage]:
        """Per-day sums, oldest first (all learners, or one)."""
        return await self._store.usage_by_day(learner_id=learner_id, since_day=since_day)

    async def budget_left(self, actor: Actor, day: str) -> float | None:
        """What the learner may still spend on ``day`` before the offline provider takes over;
        None when no daily budget is set."""
        if self.daily_budget_usd is None:
            return None
        spent = await self._store.usage_totals(learner_id=actor.learner_id, day=day)
        return max(0.0, round(self.daily_budget_usd - spent.cost_usd, 8))
