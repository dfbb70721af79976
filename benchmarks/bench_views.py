"""The result screen and the admin page's item analysis: what they cost on a SQLite store.

Measures (p50/p99 of sequential calls) the view of a completed session and, apart, what its next
challenge suggestion costs (two extra reads: the learner's sessions and the catalogue, then the
rule), and one item analysis of one challenge as the number of its played sessions grows, with
``--others`` times as many sessions of five other challenges in the same log (item analysis reads
only the challenge's own sessions, so those should cost nothing).

Run: ``.venv/bin/python -m benchmarks.bench_views [--quick] [--others 2]``. Prints tables.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.bench_core import print_table, quiz_file
from core.bootstrap import Services, build_services
from core.config import Settings
from core.service.actor import Actor
from core.service.catalog import next_challenge
from core.service.item_analysis import item_analysis_for

AUTHOR = Actor("bench-author", "author")


async def play(services: Services, learner: str, challenge: str = "bench-quiz") -> str:
    """One learner plays ``challenge`` to the end (each step wrong once, then right)."""
    await services.learners.ensure_learner(learner, learner)
    actor = Actor(learner)
    game = services.game
    view = await game.create_session(actor, challenge)
    view = await game.start_session(actor, view.session_id)
    while view.step is not None:
        view = await game.submit_answer(actor, view.session_id, view.step.id, 1)
        if view.step is not None:
            view = await game.submit_answer(actor, view.session_id, view.step.id, 0)
    return view.session_id


async def sample(fn: Callable[[], Awaitable[object]], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--others",
        type=int,
        default=2,
        help="sessions of other challenges in the log per session of the analysed one",
    )
    args = parser.parse_args()
    sizes = [10, 50] if args.quick else [50, 200, 500]
    repeats = 20 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        services = await build_services(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
        try:
            at = services.clock.now()
            await services.catalog.publish(quiz_file("bench-quiz", 5), at=at)
            for other in range(5):
                await services.catalog.publish(quiz_file(f"other-{other}", 3), at=at)
            session_id = await play(services, "learner-0")
            actor = Actor("learner-0")

            async def suggestion() -> object:
                """What the next challenge adds to a completed view: two reads and the rule."""
                passed = {
                    s.challenge_id
                    for s in await services.store.list_sessions(actor.learner_id)
                    if s.passed
                }
                return next_challenge(await services.catalog.summaries(), passed, "bench-quiz")

            async def served() -> object:
                return await services.game.get_view(actor, session_id)

            view_rows = [
                [
                    "GET view (with the suggestion)",
                    *(f"{v:.2f}" for v in await sample(served, repeats)),
                ],
                [
                    "of which the suggestion",
                    *(f"{v:.2f}" for v in await sample(suggestion, repeats)),
                ],
            ]
            print_table(["completed session view", "p50 ms", "p99 ms"], view_rows)

            analysis_rows = []
            played = 1
            others = 0
            for size in sizes:
                while played < size:
                    await play(services, f"learner-{played}")
                    played += 1
                while others < size * args.others:
                    await play(services, f"other-{others}", f"other-{others % 5}")
                    others += 1
                log = await services.store.read_all(0, 10_000_000)
                ids = {
                    s.session_id
                    for s in await services.store.all_session_summaries()
                    if s.challenge_id == "bench-quiz"
                }
                events = sum(e.stream_id in ids for e in log)

                async def analyse() -> object:
                    return await item_analysis_for(
                        AUTHOR, services.store, services.catalog, "bench-quiz"
                    )

                p50, p99 = await sample(analyse, max(3, repeats // 20))
                analysis_rows.append(
                    [str(size), str(events), str(others), str(len(log)), f"{p50:.1f}", f"{p99:.1f}"]
                )
            print_table(
                [
                    "sessions",
                    "their events",
                    "other sessions",
                    "events in the log",
                    "item analysis p50 ms",
                    "p99 ms",
                ],
                analysis_rows,
            )
        finally:
            await services.close()


if __name__ == "__main__":
    asyncio.run(main())
