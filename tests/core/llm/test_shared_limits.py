"""The LLM limits shared through Redis (REDIS_URL): the rate limit and the daily budget hold across
processes with no overshoot under concurrency, and one process's evaluation is another's cache
hit. Without Redis, concurrent calls in one process do not overshoot the budget either."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from core.llm.limits import (
    LocalDailyBudget,
    RedisDailyBudget,
    RedisRateLimiter,
    RedisVerdictCache,
    verdict_from_json,
    verdict_to_json,
)
from core.llm.orchestrator import LlmContext, LlmOrchestrator, LlmPolicy
from core.store import InMemoryStore
from tests.core.llm.conftest import evaluation
from tests.core.llm.test_orchestrator import Scripted
from tests.redis_support import delete_prefix, require_redis, unique_prefix

ROOT = Path(__file__).resolve().parents[3]

# One process's share of a contest: it tries ``tries`` rate-limit slots and budget reservations,
# all at once, and prints how many it got.
CONTENDER = """
import asyncio, json, sys, time
from redis import asyncio as aioredis
from core.llm.limits import RedisDailyBudget, RedisRateLimiter

async def main(url, prefix, tries):
    redis = aioredis.Redis.from_url(url)
    limiter = RedisRateLimiter(redis, prefix + "rate", 10)
    async def nothing_spent(learner_id, day):
        return 0.0
    budget = RedisDailyBudget(redis, prefix + "budget:", nothing_spent, reserve_usd=0.01)
    deadline = time.monotonic()  # never wait for a slot: take it now or not at all
    slots = await asyncio.gather(*(limiter.acquire(deadline) for _ in range(tries)))
    reserved = await asyncio.gather(*(budget.reserve("ada", "2026-12-06", 0.05) for _ in range(tries)))
    await redis.aclose()
    print(json.dumps({"slots": sum(slots), "reserved": sum(reserved)}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[str, str]]:
    url = await require_redis()
    prefix = unique_prefix()
    yield url, prefix
    await delete_prefix(url, prefix)


@pytest.mark.redis
async def test_two_processes_share_the_rate_limit_and_the_budget(redis_prefix):
    url, prefix = redis_prefix
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CONTENDER,
            url,
            prefix,
            "12",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = []
    for process in processes:
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0
        results.append(json.loads(out))
    # 24 tries against 10 requests a minute and a 0.05 budget at 0.01 reserved per call.
    assert sum(r["slots"] for r in results) == 10
    assert sum(r["reserved"] for r in results) == 5


@pytest.mark.redis
async def test_the_redis_budget_settles_the_real_cost_and_starts_from_the_ledger(redis_prefix):
    url, prefix = redis_prefix
    redis = aioredis.Redis.from_url(url)
    asked: list[tuple[str, str]] = []

    async def ledger(learner_id: str, day: str) -> float:
        asked.append((learner_id, day))
        return 0.03  # spent before this process (or Redis) knew

    budget = RedisDailyBudget(redis, prefix, ledger, reserve_usd=0.01)
    try:
        assert await budget.reserve("ada", "d1", 0.05)  # 0.03 spent + 0.01 reserved
        assert await budget.reserve("ada", "d1", 0.05)  # 0.04 < 0.05: one more may start
        assert not await budget.reserve("ada", "d1", 0.05)  # 0.05 reached
        await budget.settle("ada", "d1", 0.0)  # a cache hit: its reservation is returned
        await budget.settle("ada", "d1", 0.002)
        assert await budget.reserve("ada", "d1", 0.05)  # 0.032 + 0.01 in flight < 0.05
        assert asked == [("ada", "d1")]  # the ledger is read once per learner and day
    finally:
        await redis.aclose()


async def test_concurrent_calls_in_one_process_do_not_overshoot_the_budget():
    store = InMemoryStore()
    provider = Scripted(delay=0.05)  # each call costs 0.25
    policy = LlmPolicy(timeout_seconds=5.0, daily_budget_usd=0.5, budget_reserve_usd=0.25)
    orchestrator = LlmOrchestrator(provider, policy=policy, usage=store)
    ada = LlmContext(learner_id="ada")
    verdicts = await asyncio.gather(
        *(orchestrator.evaluate(evaluation(f"answer {n} about reuse"), ada) for n in range(10))
    )
    assert sum(v.grader == "scripted" for v in verdicts) == 2  # not 10: the check reserves
    assert provider.calls == 2


async def test_the_local_budget_reads_the_ledger_once_a_day():
    reads = []

    async def ledger(learner_id, day):
        reads.append(day)
        return 0.0

    budget = LocalDailyBudget(ledger, reserve_usd=0.5)
    assert await budget.reserve("ada", "d1", 1.0)
    assert await budget.reserve("ada", "d1", 1.0)
    assert not await budget.reserve("ada", "d1", 1.0)
    assert await budget.reserve("ada", "d2", 1.0)
    assert reads == ["d1", "d2"]


@pytest.mark.redis
async def test_one_process_evaluation_is_another_processes_cache_hit(redis_prefix):
    url, prefix = redis_prefix
    clients = [aioredis.Redis.from_url(url) for _ in range(2)]
    try:
        first, second = Scripted(), Scripted()
        policy = LlmPolicy(timeout_seconds=2.0)
        a = LlmOrchestrator(first, policy=policy, cache=RedisVerdictCache(clients[0], prefix))
        b = LlmOrchestrator(second, policy=policy, cache=RedisVerdictCache(clients[1], prefix))
        graded = await a.evaluate(evaluation())
        # Keys name the exact model version, which a process learns from its first call.
        await b.evaluate(evaluation("Another answer entirely."))
        again = await b.evaluate(evaluation())
        assert (first.calls, second.calls) == (1, 1)
        assert again.items == graded.items and again.grader == graded.grader
        assert again.trace is not None and again.trace.cost_usd == 0.0  # nothing spent this time
        await clients[0].set(f"{prefix}junk", "not json")
        assert await RedisVerdictCache(clients[0], prefix).get(("junk", "", "")) is None
    finally:
        for client in clients:
            await client.aclose()


def test_a_verdict_survives_its_json_form():
    verdict = asyncio.run(LlmOrchestrator(Scripted()).evaluate(evaluation()))
    assert verdict_from_json(verdict_to_json(verdict)) == verdict


@pytest.mark.redis
async def test_the_redis_rate_limit_waits_for_a_slot_within_the_deadline(redis_prefix):
    url, prefix = redis_prefix
    redis = aioredis.Redis.from_url(url)
    try:
        limiter = RedisRateLimiter(redis, f"{prefix}rate", 1)
        assert await limiter.acquire(time.monotonic() + 1)
        started = time.monotonic()
        assert not await limiter.acquire(time.monotonic() + 1)  # the slot frees in 60 s
        assert time.monotonic() - started < 1
    finally:
        await redis.aclose()
