"""Code runs across processes: two service instances (two API workers) sharing PostgreSQL, with the
claims and trial limits on Redis (``REDIS_URL``) or, without Redis, in the database.

A retried submission that lands on the other worker never runs the code a second time, and the
trial-run limit counts the learner's runs on every worker.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.bootstrap import Services, build_services
from core.config import Settings
from core.engine import UiMode
from core.errors import RateLimited
from core.service.clock import FixedClock
from core.store import InMemoryStore, open_store
from core.store.base import StoreUnavailable
from tests.core.service.conftest import quiz
from tests.core.service.test_code_steps import ADA, CODE_STEP, FakeRunner
from tests.core.store.conftest import reset_postgres
from tests.redis_support import delete_prefix, require_redis, unique_prefix

GOOD = "def double(x):\n    return 2 * x"

BACKENDS = [
    pytest.param("redis", id="redis", marks=[pytest.mark.redis, pytest.mark.postgres]),
    pytest.param("database", id="postgres", marks=pytest.mark.postgres),
]


async def worker(url: str, runner: FakeRunner, **settings: Any) -> Services:
    """One API worker's services on the shared database (its own store, pool and counters)."""
    config = Settings(database_url=url, code_trial_runs_per_minute=2, **settings)
    store = await open_store(url, auto_migrate=True)
    return await build_services(config, store=store, clock=FixedClock(), code_runner=runner)


@pytest.fixture(params=BACKENDS)
async def two_workers(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Services, Services, FakeRunner, FakeRunner, str]]:
    url = await reset_postgres()
    settings: dict[str, Any] = {"rate_limit_store": request.param}
    if request.param == "redis":
        settings |= {"redis_url": await require_redis(), "redis_key_prefix": unique_prefix()}
    run_a, run_b = FakeRunner(), FakeRunner()
    a = await worker(url, run_a, **settings)
    b = await worker(url, run_b, **settings)
    challenge = quiz(steps=[{"id": "welcome", "type": "gate", "title": "Hi"}, CODE_STEP])
    await a.catalog.publish(challenge, at="2026-01-01T00:00:00+00:00")
    await a.learners.ensure_learner("ada", "Ada")
    view = await a.game.create_session(ADA, "quiz")
    view = await a.game.start_session(ADA, view.session_id)
    view = await a.game.continue_gate(ADA, view.session_id, "welcome")
    try:
        yield a, b, run_a, run_b, view.session_id
    finally:
        await a.close()
        await b.close()
        if request.param == "redis":
            await delete_prefix(settings["redis_url"], settings["redis_key_prefix"])


async def test_a_retry_on_another_worker_never_runs_the_code_twice(two_workers: Any) -> None:
    a, b, run_a, run_b, session_id = two_workers
    run_a.gate = asyncio.Event()  # worker A's run is slow: the client gives up and retries on B
    first = asyncio.create_task(
        a.game.submit_answer(ADA, session_id, "double", GOOD, idempotency_key="k1")
    )
    await run_a.started.wait()
    retry = asyncio.create_task(
        b.game.submit_answer(ADA, session_id, "double", GOOD, idempotency_key="k1")
    )
    reader = asyncio.create_task(b.game.get_view(ADA, session_id))
    # B finds the run claimed by A and waits for A's grade instead of running the code.
    run_a.gate.set()
    views = await asyncio.wait_for(asyncio.gather(first, retry, reader), 30)
    assert len(run_a.runs) == 1 and run_b.runs == []
    assert all(v.ui_mode is UiMode.COMPLETED for v in views), views
    events = await b.game.session_events(ADA, session_id)
    assert [e.type for e in events].count("AnswerGraded") == 1


async def test_concurrent_readers_on_both_workers_share_one_run(two_workers: Any) -> None:
    a, b, run_a, run_b, session_id = two_workers
    run_a.gate, run_b.gate = asyncio.Event(), asyncio.Event()
    submitted = await a.game.submit_answer(ADA, session_id, "double", GOOD, settle=False)
    assert submitted.step.awaiting_grade
    readers = [
        asyncio.create_task(worker.game.get_view(ADA, session_id)) for worker in (a, b, a, b)
    ]
    done, _ = await asyncio.wait(
        [asyncio.ensure_future(run_a.started.wait()), asyncio.ensure_future(run_b.started.wait())],
        return_when=asyncio.FIRST_COMPLETED,
        timeout=30,
    )
    assert done
    run_a.gate.set()
    run_b.gate.set()
    views = await asyncio.wait_for(asyncio.gather(*readers), 30)
    assert len(run_a.runs) + len(run_b.runs) == 1
    assert all(v.ui_mode is UiMode.COMPLETED for v in views)
    events = await a.game.session_events(ADA, session_id)
    assert [e.type for e in events].count("AnswerGraded") == 1


async def test_the_trial_limit_counts_runs_on_every_worker(two_workers: Any) -> None:
    a, b, run_a, run_b, session_id = two_workers
    await a.game.try_code(ADA, session_id, "double", GOOD)
    await b.game.try_code(ADA, session_id, "double", GOOD)
    with pytest.raises(RateLimited) as refused:
        await a.game.try_code(ADA, session_id, "double", GOOD)
    assert refused.value.retry_after >= 1
    with pytest.raises(RateLimited):
        await b.game.try_code(ADA, session_id, "double", GOOD)
    assert len(run_a.runs) == 1 and len(run_b.runs) == 1


async def test_with_the_claims_store_down_the_answer_stays_pending_and_nothing_runs() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    runner = FakeRunner()
    settings = Settings(database_url="memory://", redis_url=closed, code_trial_runs_per_minute=2)
    services = await build_services(
        settings, store=InMemoryStore(), clock=FixedClock(), code_runner=runner
    )
    challenge = quiz(steps=[{"id": "welcome", "type": "gate", "title": "Hi"}, CODE_STEP])
    await services.catalog.publish(challenge, at="2026-01-01T00:00:00+00:00")
    await services.learners.ensure_learner("ada", "Ada")
    view = await services.game.create_session(ADA, "quiz")
    view = await services.game.start_session(ADA, view.session_id)
    view = await services.game.continue_gate(ADA, view.session_id, "welcome")
    view = await services.game.submit_answer(ADA, view.session_id, "double", GOOD)
    assert view.step is not None and view.step.awaiting_grade and runner.runs == []
    with pytest.raises(StoreUnavailable):  # "Run tests" answers 503, it is not waived
        await services.game.try_code(ADA, view.session_id, "double", GOOD)
    assert runner.runs == []
    await services.close()
