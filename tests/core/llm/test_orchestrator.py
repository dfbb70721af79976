"""The orchestration policy with in-process fake providers: deadline, retries with backoff,
rate limit, concurrency cap, cache, budget, metrics and the usage ledger."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from core.engine.commands import ItemVerdict, Verdict
from core.engine.events import LlmTrace
from core.llm.base import TextResult
from core.llm.errors import GraderError, ProviderConfigError, RateLimited
from core.llm.limits import LruCache, RateLimiter
from core.llm.metrics import LlmMetrics
from core.llm.orchestrator import LlmContext, LlmOrchestrator, LlmPolicy
from core.store import InMemoryStore
from tests.core.llm.conftest import evaluation, hint_request, narration

POLICY = LlmPolicy(
    timeout_seconds=1.0, max_retries=3, retry_base_seconds=0.01, retry_max_seconds=0.02
)


@dataclass
class Scripted:
    """A provider that fails with the scripted errors, then answers."""

    name: str = "scripted"
    model: str = "scripted-1"
    exact_model: str = "scripted-1-2026"
    errors: list[Exception] = field(default_factory=list)
    delay: float = 0.0
    calls: int = 0
    in_flight: int = 0
    most_in_flight: int = 0

    def _trace(self) -> LlmTrace:
        return LlmTrace(self.name, self.exact_model, "h", 100, 20, 0.25, 5)

    async def _step(self) -> None:
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.errors:
                raise self.errors.pop(0)
        finally:
            self.in_flight -= 1

    async def narrate(self, request) -> TextResult:
        await self._step()
        return TextResult("Narrated by the model.", self._trace())

    async def hint(self, request) -> TextResult:
        await self._step()
        return TextResult("A model hint?", self._trace())

    async def evaluate(self, request) -> Verdict:
        await self._step()
        items = tuple(ItemVerdict(c.id, float(c.points), "ok") for c in request.rubric)
        return Verdict(items, "Good.", "all there", self.name, self._trace())


async def test_retryable_failures_are_retried_then_succeed():
    provider = Scripted(errors=[RateLimited("429"), RateLimited("429")])
    verdict = await LlmOrchestrator(provider, policy=POLICY).evaluate(evaluation())
    assert provider.calls == 3 and verdict.grader == "scripted"


async def test_backoff_grows_and_is_jittered():
    orchestrator = LlmOrchestrator(
        Scripted(),
        policy=LlmPolicy(
            timeout_seconds=100, max_retries=10, retry_base_seconds=1, retry_max_seconds=8
        ),
        rng=random.Random(7),
    )
    deadline = time.monotonic() + 100
    delays = [orchestrator._retry_delay(n, RateLimited("x"), deadline) for n in range(5)]
    assert all(d is not None for d in delays)
    for attempt, delay in enumerate(delays[:3]):
        assert 0.5 * 2**attempt <= delay <= 2**attempt  # "equal jitter" around base·2ⁿ
    assert delays[4] <= 8  # capped
    assert orchestrator._retry_delay(0, RateLimited("x", retry_after=5), deadline) >= 5


async def test_non_retryable_failures_fall_back_at_once():
    provider = Scripted(errors=[GraderError("bad verdict")])
    verdict = await LlmOrchestrator(provider, policy=POLICY).evaluate(evaluation())
    assert provider.calls == 1
    assert verdict.grader == "offline" and verdict.trace is not None and verdict.trace.provisional


async def test_the_deadline_covers_retries_and_waiting():
    provider = Scripted(delay=0.3, errors=[RateLimited("429")] * 10)
    policy = LlmPolicy(timeout_seconds=0.5, max_retries=10, retry_base_seconds=0.01)
    started = time.monotonic()
    result, source = await LlmOrchestrator(provider, policy=policy).hint(hint_request())
    assert time.monotonic() - started < 1.5  # the 0.5 s deadline, with room for a loaded machine
    assert source == "fallback" and result.text


async def test_local_rate_limit_falls_back_instead_of_blocking():
    provider = Scripted()
    policy = LlmPolicy(timeout_seconds=0.3, max_requests_per_minute=2)
    orchestrator = LlmOrchestrator(provider, policy=policy)
    sources = [(await orchestrator.narrate(narration()))[1] for _ in range(3)]
    assert sources == ["llm", "llm", "fallback"] and provider.calls == 2


async def test_rate_limiter_waits_for_a_slot_within_the_deadline():
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0])
    assert await limiter.acquire(deadline=10)
    assert not await limiter.acquire(deadline=59)  # the slot frees at 60: too late
    now[0] = 60.0
    assert await limiter.acquire(deadline=70)


async def test_concurrency_is_capped():
    provider = Scripted(delay=0.05)
    orchestrator = LlmOrchestrator(provider, policy=LlmPolicy(max_concurrency=2))
    await asyncio.gather(*(orchestrator.narrate(narration()) for _ in range(6)))
    assert provider.calls == 6 and provider.most_in_flight == 2


async def test_evaluations_are_cached_by_provider_exact_model_and_prompt():
    provider = Scripted()
    orchestrator = LlmOrchestrator(provider, policy=POLICY)
    first = await orchestrator.evaluate(evaluation())
    again = await orchestrator.evaluate(evaluation())
    other = await orchestrator.evaluate(evaluation("Something else entirely."))
    assert provider.calls == 2
    assert again.items == first.items and again.grader == first.grader
    assert again.trace is not None and again.trace.cost_usd == 0 and again.trace.tokens_in == 0
    assert other.trace is not None and other.trace.cost_usd == 0.25
    # A new model version behind the same name is a new cache key.
    provider.exact_model = "scripted-1-2027"
    orchestrator._exact_models[("scripted", "scripted-1")] = "scripted-1-2027"
    await orchestrator.evaluate(evaluation())
    assert provider.calls == 3


def test_lru_cache_is_bounded():
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2


async def test_failures_never_reach_the_learner():
    class Exploding(Scripted):
        async def _step(self) -> None:
            raise RuntimeError("boom with sk-secret-key")

    orchestrator = LlmOrchestrator(Exploding(), policy=POLICY)
    verdict = await orchestrator.evaluate(evaluation())
    narrated, narrated_from = await orchestrator.narrate(narration())
    hinted, hinted_from = await orchestrator.hint(hint_request())
    assert verdict.trace is not None and verdict.trace.provisional
    assert "boom" not in verdict.feedback and "sk-secret" not in verdict.feedback
    assert narrated_from == hinted_from == "fallback"
    assert narrated.text == "Let's talk about functions." and hinted.text


async def test_usage_is_recorded_and_metrics_count_every_outcome():
    store = InMemoryStore()
    registry = CollectorRegistry()
    provider = Scripted(errors=[RateLimited("429")])
    orchestrator = LlmOrchestrator(
        provider, policy=POLICY, usage=store, metrics=LlmMetrics(registry)
    )
    context = LlmContext(learner_id="ada", session_id="s1")
    await orchestrator.evaluate(evaluation(), context)
    await orchestrator.evaluate(evaluation(), context)  # a cache hit: no call, no cost
    provider.errors = [
        GraderError("bad", trace=LlmTrace("scripted", "scripted-1-2026", "h", 50, 5, 0.1))
    ]
    await orchestrator.narrate(narration(), context)

    totals = await store.usage_totals(session_id="s1")
    assert (totals.calls, totals.failures) == (2, 1)
    assert totals.cost_usd == pytest.approx(0.35) and totals.tokens_in == 150
    assert (await store.usage_totals(learner_id="ada")).calls == 2
    assert (await store.usage_totals(learner_id="bob")).calls == 0

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    calls = "curiouscore_llm_calls_total"
    assert sample(calls, provider="scripted", task="LEM_EVALUATE", outcome="ok") == 1
    assert sample(calls, provider="scripted", task="LEM_EVALUATE", outcome="cache_hit") == 1
    assert (
        sample(calls, provider="scripted", task="GM_NARRATE", outcome="fallback_grader_error") == 1
    )
    retries = "curiouscore_llm_retries_total"
    assert sample(retries, provider="scripted", task="LEM_EVALUATE", reason="rate_limited") == 1
    cost = "curiouscore_llm_cost_usd_total"
    assert sample(cost, provider="scripted", model="scripted-1-2026") == pytest.approx(0.35)
    tokens = "curiouscore_llm_tokens_total"
    assert sample(tokens, provider="scripted", model="scripted-1-2026", direction="in") == 150
    latency = "curiouscore_llm_request_duration_seconds_count"
    assert sample(latency, provider="scripted", task="LEM_EVALUATE") == 1


async def test_the_daily_budget_switches_a_learner_to_offline():
    store = InMemoryStore()
    provider = Scripted()
    policy = LlmPolicy(timeout_seconds=1.0, daily_budget_usd=0.5)
    orchestrator = LlmOrchestrator(provider, policy=policy, usage=store)
    ada, bob = LlmContext(learner_id="ada"), LlmContext(learner_id="bob")
    graders = []
    for n in range(3):
        verdict = await orchestrator.evaluate(evaluation(f"answer {n} about reuse"), ada)
        graders.append(verdict.grader)
    assert graders == ["scripted", "scripted", "offline"]  # 0.25 + 0.25 reaches 0.5
    offline = await orchestrator.evaluate(evaluation("answer 9"), ada)
    assert offline.trace is not None and not offline.trace.provisional
    assert (await orchestrator.narrate(narration(), ada))[1] == "authored"
    assert (await orchestrator.evaluate(evaluation("answer 3"), bob)).grader == "scripted"


async def test_a_challenge_can_choose_its_provider_and_model():
    chosen = Scripted(name="chosen", model="chosen-2")

    class Source:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str | None]] = []

        def get(self, name, model):
            self.asked.append((name, model))
            if name == "gemini":
                raise ProviderConfigError("set GEMINI_API_KEY")
            return chosen

        async def aclose(self) -> None:
            pass

    source = Source()
    default = Scripted()
    orchestrator = LlmOrchestrator(default, policy=POLICY, providers=source)
    verdict = await orchestrator.evaluate(
        evaluation(), LlmContext(provider="openai", model="gpt-x")
    )
    assert verdict.grader == "chosen" and source.asked == [("openai", "gpt-x")]
    # A provider that cannot be built (no key) leaves the default in charge.
    verdict = await orchestrator.evaluate(evaluation(), LlmContext(provider="gemini"))
    assert verdict.grader == "scripted"
    # A model alone applies to the default provider.
    await orchestrator.narrate(narration(), LlmContext(model="bigger"))
    assert source.asked[-1] == ("scripted", "bigger")
