"""What the security checks cost per request: the access-token version check (one primary-key read
on every authenticated request) and one rate-limit step (check and count) on each counter backend.

    .venv/bin/python -m benchmarks.bench_auth [--quick]

PostgreSQL: ``BENCH_DATABASE_URL`` (its schema is migrated, rows are added); Redis: ``BENCH_REDIS_URL``
(keys under a fresh prefix, deleted afterwards). A backend that cannot be reached is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.store.accounts import AccountRecord
from core.store.migrate import migrate
from core.store.rate_counters import MemoryRateCounters, RateCounters
from core.store.redis_rate_counters import RedisRateCounters
from core.store.sql import SqlStore

PG_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/curiouscore_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


async def timed(call: Callable[[], Awaitable[object]], n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def token_check(store: SqlStore, n: int) -> tuple[float, float]:
    learner_id = uuid.uuid4().hex
    record = AccountRecord(learner_id, f"{learner_id}@bench.test", "x", "2026-01-01T00:00:00")
    await store.create_account(record, "Bench")
    return await timed(lambda: store.get_token_state(learner_id), n)


async def rate_step(counters: RateCounters, n: int) -> tuple[float, float]:
    key = uuid.uuid4().hex
    return await timed(
        lambda: counters.take_rate_hit(key, limit=10**9, window=60, now=time.time()), n
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    n = 200 if parser.parse_args().quick else 2000
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        stores = [("SQLite", sqlite_url), ("PostgreSQL", PG_URL)]
        for name, url in stores:
            try:
                await migrate(url)
            except Exception as error:  # an unreachable backend is left out
                print(f"{name}: left out ({type(error).__name__})")
                continue
            store = SqlStore(url)
            try:
                rows.append(("token version check", name, *await token_check(store, n)))
                rows.append(("rate-limit step", f"database ({name})", *await rate_step(store, n)))
            finally:
                await store.close()
    rows.append(("rate-limit step", "in-process", *await rate_step(MemoryRateCounters(), n)))
    prefix = f"curiouscore-bench:{uuid.uuid4().hex}:"
    redis = RedisRateCounters.from_url(REDIS_URL, prefix=prefix)
    try:
        rows.append(("rate-limit step", "Redis", *await rate_step(redis, n)))
        keys = [key async for key in redis._client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis._client.delete(*keys)
    except Exception as error:
        print(f"Redis: left out ({type(error).__name__})")
    finally:
        await redis.aclose()
    print(f"\n{n} sequential calls each\n")
    print("| what | backend | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for what, backend, p50, p99 in rows:
        print(f"| {what} | {backend} | {p50:.3f} | {p99:.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
