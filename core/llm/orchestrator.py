"""Running LLM tasks so that a learner is never blocked.

Each task gets a deadline (``LLM_TIMEOUT_SECONDS``) covering everything: waiting for the per-process
rate limit and the concurrency cap, the calls themselves, and retries with exponential backoff and
jitter on 429/5xx/timeouts (honouring ``retry-after``, but never past the deadline). When the
deadline passes or the provider fails, narration and hints fall back to authored text and an
evaluation to the offline evaluator, marked ``provisional``, with a friendly note; callers never see
a provider error. Evaluations are cached by (provider, exact model version, prompt hash). Every task
that reaches a provider is priced, counted in the metrics and written to the usage ledger; a learner
past the daily budget gets the offline provider. The service calls this outside any transaction.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from core.engine.commands import Verdict
from core.engine.events import LlmTrace
from core.llm.base import (
    EvaluationRequest,
    HintRequest,
    LlmProvider,
    LlmTask,
    NarrationRequest,
    TextResult,
)
from core.llm.errors import GraderError, LlmError, ProviderConfigError, ProviderTimeout, RateLimited
from core.llm.hint_guard import guard_hint
from core.llm.limits import (
    CallRateLimit,
    DailyBudget,
    LocalDailyBudget,
    LocalVerdictCache,
    RateLimiter,
    VerdictCache,
)
from core.llm.metrics import LlmMetrics
from core.llm.offline import OfflineProvider
from core.llm.prompts import evaluation_prompt
from core.llm.verdicts import REVIEW_BELOW, check_llm_verdict, with_review
from core.store.base import StoreError
from core.store.usage import UsageRecord, UsageStore

log = logging.getLogger(__name__)

T = TypeVar("T")
FALLBACK_NOTE = "Graded automatically for now; a detailed review was not available."
CacheKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class LlmPolicy:
    """The orchestration knobs (from ``LLM_*`` settings)."""

    timeout_seconds: float = 30.0
    max_retries: int = 2
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 8.0
    max_requests_per_minute: int = 60
    max_concurrency: int = 8
    daily_budget_usd: float | None = None
    cache_size: int = 1024
    review_below: float = REVIEW_BELOW  # GRADING_REVIEW_BELOW: less sure grades need review
    # Reserved from the daily budget while a call is in flight (its cost is known only after).
    budget_reserve_usd: float = 0.01


@dataclass(frozen=True, slots=True)
class LlmContext:
    """Who a task is for (usage and budget) and the challenge's provider/model choice, if any."""

    learner_id: str | None = None
    session_id: str | None = None
    provider: str | None = None
    model: str | None = None


class ProviderSource(Protocol):
    """What the orchestrator needs from :class:`core.llm.factory.ProviderFactory`."""

    def get(self, name: str, model: str | None) -> LlmProvider: ...

    async def aclose(self) -> None: ...


class LlmOrchestrator:
    """Calls the configured provider under the policy and falls back to the offline provider."""

    def __init__(
        self,
        provider: LlmProvider,
        *,
        timeout_seconds: float | None = None,
        policy: LlmPolicy | None = None,
        providers: ProviderSource | None = None,
        usage: UsageStore | None = None,
        metrics: LlmMetrics | None = None,
        rng: random.Random | None = None,
        limiter: CallRateLimit | None = None,
        cache: VerdictCache | None = None,
        budget: DailyBudget | None = None,
    ) -> None:
        """``limiter``, ``cache`` and ``budget`` default to this process's own; pass the Redis
        ones (``core.llm.limits``) to share them between processes."""
        policy = policy or LlmPolicy()
        if timeout_seconds is not None:
            policy = replace(policy, timeout_seconds=timeout_seconds)
        self.provider = provider
        self.policy = policy
        self.metrics = metrics
        self._providers = providers
        self._usage = usage
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._fallback = OfflineProvider(provisional=True)
        self._offline = OfflineProvider()
        self._limiter = limiter or RateLimiter(policy.max_requests_per_minute)
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        self._cache = cache or LocalVerdictCache(policy.cache_size)
        self._budget = budget
        if budget is None and usage is not None:
            self._budget = LocalDailyBudget(
                self._spent_today, reserve_usd=policy.budget_reserve_usd
            )
        self._exact_models: dict[tuple[str, str], str] = {}
        self._warned: set[tuple[str, str | None]] = set()

    @property
    def timeout_seconds(self) -> float:
        return self.policy.timeout_seconds

    @property
    def is_offline(self) -> bool:
        return isinstance(self.provider, OfflineProvider)

    async def aclose(self) -> None:
        """Close the SDK clients of the providers built for this process (a provider passed in
        alongside a factory belongs to the caller)."""
        if self._providers is not None:
            await self._providers.aclose()  # it built (and owns) the default provider too
            return
        close = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()

    # -- the three tasks ----------------------------------------------------------------------

    async def narrate(
        self, request: NarrationRequest, context: LlmContext | None = None
    ) -> tuple[TextResult, str]:
        """Return the narration and its source: ``llm``, ``authored`` or ``fallback``."""
        provider = self._provider_for(context)
        if isinstance(provider, OfflineProvider):
            self._count(provider.name, LlmTask.GM_NARRATE, "ok")
            return await provider.narrate(request), "authored"
        if await self._over_budget(LlmTask.GM_NARRATE, provider, context):
            return await self._offline.narrate(request), "authored"
        started = time.monotonic()
        try:
            result = await self._run(
                LlmTask.GM_NARRATE, provider, lambda: provider.narrate(request)
            )
        except Exception as error:  # any provider failure: narrate from authored text instead
            fallback = await self._fallback.narrate(request)
            trace = self._failed(LlmTask.GM_NARRATE, provider, error, fallback.trace, started)
            await self._record(LlmTask.GM_NARRATE, context, trace, ok=False)
            return TextResult(fallback.text, trace), "fallback"
        self._succeeded(LlmTask.GM_NARRATE, result.trace)
        await self._record(LlmTask.GM_NARRATE, context, result.trace, ok=True)
        return result, "llm"

    async def hint(
        self, request: HintRequest, context: LlmContext | None = None
    ) -> tuple[TextResult, str]:
        """Return a hint and its source: ``llm``, ``offline`` or ``fallback``; a hint that quotes
        the answer key is replaced by a safe nudge (:mod:`core.llm.hint_guard`)."""
        result, source = await self._hint(request, context)
        text, replaced = guard_hint(result.text, request)
        if replaced:
            log.warning("a %s hint quoted the answer key; replaced with a safe nudge", source)
            return TextResult(text, result.trace), source
        return result, source

    async def _hint(
        self, request: HintRequest, context: LlmContext | None
    ) -> tuple[TextResult, str]:
        provider = self._provider_for(context)
        if isinstance(provider, OfflineProvider):
            self._count(provider.name, LlmTask.TEACH_HINTS, "ok")
            return await provider.hint(request), "offline"
        if await self._over_budget(LlmTask.TEACH_HINTS, provider, context):
            return await self._offline.hint(request), "offline"
        started = time.monotonic()
        try:
            result = await self._run(LlmTask.TEACH_HINTS, provider, lambda: provider.hint(request))
        except Exception as error:  # any provider failure: a deterministic hint instead
            fallback = await self._fallback.hint(request)
            trace = self._failed(LlmTask.TEACH_HINTS, provider, error, fallback.trace, started)
            await self._record(LlmTask.TEACH_HINTS, context, trace, ok=False)
            return TextResult(fallback.text, trace), "fallback"
        self._succeeded(LlmTask.TEACH_HINTS, result.trace)
        await self._record(LlmTask.TEACH_HINTS, context, result.trace, ok=True)
        return result, "llm"

    async def evaluate(
        self, request: EvaluationRequest, context: LlmContext | None = None
    ) -> Verdict:
        """Grade a chat answer; on any failure, a provisional offline grade with a friendly note.
        A verdict less confident than the policy's ``review_below`` is marked ``needs_review``."""
        verdict = await self._evaluate(request, context)
        return with_review(verdict, self.policy.review_below)

    async def _evaluate(
        self, request: EvaluationRequest, context: LlmContext | None = None
    ) -> Verdict:
        provider = self._provider_for(context)
        if isinstance(provider, OfflineProvider):
            self._count(provider.name, LlmTask.LEM_EVALUATE, "ok")
            return await provider.evaluate(request)
        if await self._over_budget(LlmTask.LEM_EVALUATE, provider, context):
            return await self._offline.evaluate(request)
        prompt_hash = evaluation_prompt(request).hash
        cached = await self._cache.get((provider.name, self._exact_model(provider), prompt_hash))
        if cached is not None:
            await self._settle_budget(context, 0.0)
            self._count(provider.name, LlmTask.LEM_EVALUATE, "cache_hit")
            return _without_cost(cached)
        started = time.monotonic()
        try:
            verdict = await self._run(
                LlmTask.LEM_EVALUATE, provider, lambda: provider.evaluate(request)
            )
        except Exception as error:  # any provider failure: provisional offline grade instead
            fallback = await self._fallback.evaluate(request)
            trace = self._failed(LlmTask.LEM_EVALUATE, provider, error, fallback.trace, started)
            await self._record(LlmTask.LEM_EVALUATE, context, trace, ok=False)
            return replace(fallback, feedback=f"{fallback.feedback} {FALLBACK_NOTE}", trace=trace)
        trace = verdict.trace or LlmTrace(provider.name, _model_of(provider), prompt_hash)
        verdict = check_llm_verdict(verdict, request)
        self._exact_models[(provider.name, _model_of(provider))] = trace.model
        await self._cache.put((provider.name, trace.model, prompt_hash), verdict)
        self._succeeded(LlmTask.LEM_EVALUATE, trace)
        await self._record(LlmTask.LEM_EVALUATE, context, trace, ok=True)
        return verdict

    # -- the policy ---------------------------------------------------------------------------

    async def _run(
        self, task: LlmTask, provider: LlmProvider, call: Callable[[], Awaitable[T]]
    ) -> T:
        """Call under the deadline, the rate limit and the concurrency cap, retrying what is
        retryable while the deadline allows."""
        timeout = self.policy.timeout_seconds
        started = time.monotonic()
        deadline = started + timeout
        try:
            async with asyncio.timeout(timeout):
                attempt = 0
                while True:
                    if not await self._limiter.acquire(deadline):
                        raise RateLimited("the per-process LLM rate limit is exhausted")
                    async with self._slots:
                        try:
                            return await call()
                        except LlmError as error:
                            delay = self._retry_delay(attempt, error, deadline)
                            if delay is None:
                                raise
                            self._count_retry(provider.name, task, error)
                    attempt += 1
                    await asyncio.sleep(delay)
        except TimeoutError:
            raise ProviderTimeout(f"no answer within {timeout:g}s") from None
        finally:
            if self.metrics is not None:
                self.metrics.latency.labels(provider.name, task.value).observe(
                    time.monotonic() - started
                )

    def _retry_delay(self, attempt: int, error: LlmError, deadline: float) -> float | None:
        """Seconds to wait before the next attempt, or None when it must not be retried."""
        if not error.retryable or attempt >= self.policy.max_retries:
            return None
        backoff = min(self.policy.retry_max_seconds, self.policy.retry_base_seconds * 2.0**attempt)
        delay = backoff * (0.5 + self._rng.random() / 2)  # "equal jitter"
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if time.monotonic() + delay >= deadline:
            return None  # waiting would break the deadline: fall back now instead
        return delay

    def _provider_for(self, context: LlmContext | None) -> LlmProvider:
        """The challenge's provider/model when it names one (and it can be built), else ours."""
        if context is None or self._providers is None or not (context.provider or context.model):
            return self.provider
        name = context.provider or self.provider.name
        try:
            return self._providers.get(name, context.model)
        except ProviderConfigError as error:
            if (name, context.model) not in self._warned:
                self._warned.add((name, context.model))
                log.warning(
                    "challenge asks for an llm provider that cannot be used; using the default",
                    extra={"provider": name, "reason": str(error)},
                )
            return self.provider

    def _exact_model(self, provider: LlmProvider) -> str:
        """The exact model version the API last reported for this provider's model name."""
        model = _model_of(provider)
        return self._exact_models.get((provider.name, model), model)

    async def _over_budget(
        self, task: LlmTask, provider: LlmProvider, context: LlmContext | None
    ) -> bool:
        """Whether the learner is past today's budget; when not, reserve for this call (settled
        with its cost by ``_record``), so concurrent calls cannot all slip under it."""
        budget = self.policy.daily_budget_usd
        if budget is None or self._budget is None or context is None or not context.learner_id:
            return False
        try:
            if await self._budget.reserve(context.learner_id, _today(), budget):
                return False
        except Exception as error:  # the store or Redis blinked: grade rather than block
            log.warning("llm budget check failed", extra={"error": type(error).__name__})
            return False
        self._count(provider.name, task, "budget")
        log.info("learner reached the daily llm budget", extra={"learner_id": context.learner_id})
        return True

    async def _spent_today(self, learner_id: str, day: str) -> float:
        assert self._usage is not None
        return (await self._usage.usage_totals(learner_id=learner_id, day=day)).cost_usd

    async def _settle_budget(self, context: LlmContext | None, cost: float) -> None:
        """Replace a call's budget reservation with what it cost."""
        if self.policy.daily_budget_usd is None or self._budget is None:
            return
        if context is None or not context.learner_id:
            return
        try:
            await self._budget.settle(context.learner_id, _today(), cost)
        except Exception as error:
            log.warning("llm budget not settled", extra={"error": type(error).__name__})

    # -- accounting ---------------------------------------------------------------------------

    def _failed(
        self,
        task: LlmTask,
        provider: LlmProvider,
        error: BaseException,
        fallback: LlmTrace | None,
        started: float,
    ) -> LlmTrace:
        """Log and count a failed task; return the provisional trace for its fallback outcome,
        carrying whatever the failed call cost."""
        outcome = error.outcome if isinstance(error, LlmError) else "error"
        spent = error.trace if isinstance(error, LlmError) else None
        log.warning(
            "llm task failed, using offline fallback",
            extra={
                "task": task.value,
                "provider": provider.name,
                "outcome": outcome,
                "error": type(error).__name__,
            },
        )
        self._count(provider.name, task, f"fallback_{outcome}")
        if isinstance(error, GraderError) and self.metrics is not None:
            model = spent.model if spent else _model_of(provider)
            self.metrics.grader_errors.labels(provider.name, model).inc()
        if spent is not None:
            self._spend(spent)
        return LlmTrace(
            provider=provider.name,
            model=spent.model if spent else _model_of(provider),
            prompt_hash=spent.prompt_hash if spent else (fallback.prompt_hash if fallback else ""),
            tokens_in=spent.tokens_in if spent else 0,
            tokens_out=spent.tokens_out if spent else 0,
            cost_usd=spent.cost_usd if spent else 0.0,
            latency_ms=round((time.monotonic() - started) * 1000),
            provisional=True,
        )

    def _succeeded(self, task: LlmTask, trace: LlmTrace | None) -> None:
        if trace is None:
            return
        self._count(trace.provider, task, "ok")
        self._spend(trace)

    def _spend(self, trace: LlmTrace) -> None:
        if self.metrics is None:
            return
        self.metrics.tokens.labels(trace.provider, trace.model, "in").inc(trace.tokens_in)
        self.metrics.tokens.labels(trace.provider, trace.model, "out").inc(trace.tokens_out)
        self.metrics.cost.labels(trace.provider, trace.model).inc(trace.cost_usd)

    def _count(self, provider: str, task: LlmTask, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.calls.labels(provider, task.value, outcome).inc()

    def _count_retry(self, provider: str, task: LlmTask, error: LlmError) -> None:
        log.info("llm call retried", extra={"provider": provider, "reason": error.outcome})
        if self.metrics is not None:
            self.metrics.retries.labels(provider, task.value, error.outcome).inc()

    async def _record(
        self, task: LlmTask, context: LlmContext | None, trace: LlmTrace | None, *, ok: bool
    ) -> None:
        """Write the task to the usage ledger (its own short transaction, after the call), and
        settle its budget reservation."""
        await self._settle_budget(context, trace.cost_usd if trace is not None else 0.0)
        if self._usage is None or trace is None or context is None or not context.learner_id:
            return
        now = datetime.now(UTC)
        record = UsageRecord(
            learner_id=context.learner_id,
            session_id=context.session_id,
            day=now.date().isoformat(),
            task=task.value,
            provider=trace.provider,
            model=trace.model,
            tokens_in=trace.tokens_in,
            tokens_out=trace.tokens_out,
            cost_usd=trace.cost_usd,
            latency_ms=trace.latency_ms,
            ok=ok,
            provisional=trace.provisional,
            created_at=now.isoformat(timespec="milliseconds"),
        )
        try:
            await self._usage.record_usage(record)
        except StoreError as error:
            # The grade matters more than the ledger: keep going, but say so.
            log.warning("llm usage not recorded", extra={"error": type(error).__name__})


def _model_of(provider: LlmProvider) -> str:
    model = getattr(provider, "model", "")
    return model if isinstance(model, str) else ""


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _without_cost(verdict: Verdict) -> Verdict:
    """A cached verdict as a new outcome: no tokens were spent on it this time."""
    if verdict.trace is None:
        return verdict
    trace = replace(verdict.trace, tokens_in=0, tokens_out=0, cost_usd=0.0, latency_ms=0)
    return replace(verdict, trace=trace)
