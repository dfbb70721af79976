"""What the workers' pending-work sweep costs (core/service/pending_sweep.py), on PostgreSQL.

N learners each play the quiz to its chat step and answer it (offline provider: graded in the same
transaction, so nothing is pending), about 20 events per session. Then one sweep round reads those
events and, once the sessions are quiet, hydrates each one: timed with the state cache cold (a
fresh process, the worst case) and warm (the process that wrote the sessions, as a worker that
graded them is).

    .venv/bin/python -m benchmarks.bench_pending_sweep --learners 1000
"""

from __future__ import annotations

import argparse
import asyncio
import time

from benchmarks.bench_api import reset_postgres
from core.bootstrap import Services, build_services
from core.config import Settings
from core.service.actor import Actor
from core.service.clock import SystemClock
from core.service.pending_sweep import CHECKPOINT, PendingSweep
from tests.core.test_worker import quiet_quiz

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/curiouscore_bench_sweep"


class NoJobs:
    async def settle_queued(self, session_id: str) -> bool:
        return False

    async def defer_settle_or_raise(self, session_id: str) -> None:
        raise AssertionError("nothing is pending in this benchmark")


async def play(services: Services, n: int) -> None:
    game = services.game

    async def one(i: int) -> None:
        actor = Actor(f"learner-{i}")
        await services.learners.ensure_learner(actor.learner_id, f"L{i}")
        sid = (await game.create_session(actor, "quiz")).session_id
        await game.start_session(actor, sid)
        await game.continue_gate(actor, sid, "welcome")
        await game.submit_answer(actor, sid, "pick", 0)
        await game.submit_answer(actor, sid, "several", (0, 2))
        await game.submit_answer(actor, sid, "truth", True)
        await game.submit_answer(actor, sid, "explain", "Reuse a named block of code.")

    for start in range(0, n, 50):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + 50))))


async def timed_round(services: Services, clock: list[float]) -> tuple[float, float, int, int]:
    """(seconds reading, seconds checking, events read, sessions checked) of two rounds: one
    that reads everything, one after the bound that hydrates every session."""
    sweep = PendingSweep(
        services.store,
        services.game,
        NoJobs(),
        after_seconds=30,
        max_events=10**9,
        max_checks=10**9,
        wall_clock=lambda: clock[0],
    )
    started = time.perf_counter()
    first = await sweep.run_once()
    reading = time.perf_counter() - started
    clock[0] += 31
    started = time.perf_counter()
    second = await sweep.run_once()
    checking = time.perf_counter() - started
    return reading, checking, first.events_read, second.sessions_checked


async def main(args: argparse.Namespace) -> None:
    url = args.postgres_url
    await reset_postgres(url)
    settings = Settings(env="test", database_url=url, llm_provider="offline")
    writer = await build_services(settings, clock=SystemClock())
    await writer.catalog.publish(quiet_quiz(), at=writer.clock.now())
    started = time.perf_counter()
    await play(writer, args.learners)
    print(f"{args.learners} sessions played in {time.perf_counter() - started:.1f} s")
    try:
        for label, services in (("cold cache", None), ("warm cache", writer)):
            fresh = services or await build_services(settings, clock=SystemClock())
            await fresh.store.delete_checkpoint(CHECKPOINT)
            reading, checking, events, sessions = await timed_round(fresh, [1_000.0])
            print(
                f"{label}: read {events} events in {reading * 1000:.0f} ms "
                f"({reading / events * 1e6:.0f} µs/event); hydrated {sessions} sessions in "
                f"{checking * 1000:.0f} ms ({checking / sessions * 1000:.2f} ms/session)"
            )
            if services is None:
                await fresh.close()
    finally:
        await writer.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    asyncio.run(main(parser.parse_args()))
