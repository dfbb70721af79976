"""Core benchmarks: engine commands/s, answer round trips/s through the service, hydrate time.

Run: ``.venv/bin/python -m benchmarks.bench_core [--postgres-url URL] [--quick]``. Prints tables; the
figures measured on our machine are in benchmarks/README.md.

``--flow-only``: just the issue flow (issue 17's round: create, start, continue, wrong answer,
right answer, read; the token check before each) of 50 concurrent learners through the service on
SQLite, in process: the core's CPU per request without HTTP. Run as a script with another checkout
on ``PYTHONPATH`` to time that checkout's core (``PYTHONPATH=../before python
benchmarks/bench_core.py --flow-only``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import asyncpg
from sqlalchemy import make_url

from core.bootstrap import Services, build_services
from core.config import Settings
from core.content import ChallengeFile, to_spec
from core.engine import SessionState, run
from core.engine.commands import ContinueGate, CreateSession, StartSession, SubmitAnswer
from core.engine.events import Event, decode, encode
from core.engine.state import STATE_SCHEMA_VERSION, evolve, state_to_dict
from core.service.actor import Actor
from core.store import NewEvent, Snapshot, Store, StoreUnavailable, migrate, open_store
from core.store.base import AccessClaim

AT = "2026-01-01T00:00:00.000+00:00"
PLAYER = Actor("bench")


def quiz_file(challenge_id: str, steps: int) -> ChallengeFile:
    """A challenge of ``steps`` mcq steps (each answered wrong once, then right)."""
    return ChallengeFile.model_validate(
        {
            "id": challenge_id,
            "title": "Benchmark quiz",
            "steps": [
                {
                    "id": f"q{i}",
                    "type": "mcq",
                    "title": f"Question {i}",
                    "prompt": "Pick the right one.",
                    "points": 10,
                    "choices": [{"text": "right", "correct": True}, {"text": "wrong"}],
                }
                for i in range(steps)
            ],
        }
    )


def gates_file(challenge_id: str, steps: int) -> ChallengeFile:
    return ChallengeFile.model_validate(
        {
            "id": challenge_id,
            "title": "Benchmark gates",
            "steps": [{"id": f"g{i}", "type": "gate", "title": f"Gate {i}"} for i in range(steps)],
        }
    )


def bench_engine(commands: int) -> tuple[int, float]:
    """Decide+evolve throughput over a long mcq session."""
    spec = to_spec(quiz_file("engine-bench", 500))
    done = 0
    start = time.perf_counter()
    while done < commands:
        state, _ = run(spec, SessionState(), CreateSession(at=AT, session_id="s", learner_id="l"))
        state, _ = run(spec, state, StartSession(at=AT))
        done += 2
        for step in spec.steps:
            state, _ = run(spec, state, SubmitAnswer(at=AT, step_id=step.id, answer=1))
            state, _ = run(spec, state, SubmitAnswer(at=AT, step_id=step.id, answer=0))
            done += 2
            if done >= commands:
                break
    return done, time.perf_counter() - start


async def bench_round_trips(services: Services, answers: int) -> tuple[int, float]:
    """Answer round trips through the service (load, decide, append, read models, view)."""
    await services.catalog.publish(quiz_file("rt-bench", answers // 2 + 1), at=AT)
    await services.learners.ensure_learner(PLAYER.learner_id, "Bench")
    view = await services.game.create_session(PLAYER, "rt-bench")
    view = await services.game.start_session(PLAYER, view.session_id)
    start = time.perf_counter()
    for i in range(answers):
        assert view.step is not None
        view = await services.game.submit_answer(
            PLAYER, view.session_id, view.step.id, 1 if i % 2 == 0 else 0
        )
    return answers, time.perf_counter() - start


async def build_long_session(services: Services, store: Store, events: int, interval: int) -> str:
    """Append a gates session of ``events`` events in bulk, snapshotting as the service would."""
    challenge = gates_file(f"hydrate-{events}", events // 2)
    await services.catalog.publish(challenge, at=AT)
    spec = await services.catalog.latest_spec(challenge.id)
    session_id = f"hydrate-{events}-{time.time_ns()}"
    state, batch = run(
        spec, SessionState(), CreateSession(at=AT, session_id=session_id, learner_id="bench")
    )
    state, more = run(spec, state, StartSession(at=AT))
    batch += more
    version = 0
    while state.current is not None and version + len(batch) < events:
        state, more = run(spec, state, ContinueGate(at=AT, step_id=state.current.step_id))
        batch += more
        if len(batch) >= 500:
            await store.append(session_id, _new(batch), version, recorded_at=AT)
            version += len(batch)
            batch = []
    if batch:
        await store.append(session_id, _new(batch), version, recorded_at=AT)
    # The service snapshots whenever a multiple of the interval is crossed; the latest one is at or
    # below the last event, so hydrating reads at most ``interval`` events after it.
    snap_version = (state.version // interval) * interval
    snap_state = SessionState()
    for stored in await store.read_stream(session_id):
        if snap_state.version == snap_version:
            break
        snap_state = evolve(snap_state, decode(stored.type, stored.schema_version, stored.data))
    await store.save_snapshot(
        Snapshot(session_id, snap_version, STATE_SCHEMA_VERSION, state_to_dict(snap_state))
    )
    return session_id


def _new(events: list[Event]) -> list[NewEvent]:
    return [NewEvent(e.NAME, encode(e), e.SCHEMA_VERSION) for e in events]


async def timed(fn: Callable[[], Awaitable[object]], repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def ensure_database(url: str) -> None:
    """Create the benchmark's own PostgreSQL database if it is missing (never the test database)."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    connection = await asyncpg.connect(admin)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", parsed.database
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await connection.close()


async def bench_store(label: str, url: str, args: argparse.Namespace) -> list[list[str]]:
    if url.startswith("postgresql"):
        try:
            await ensure_database(url)
        except OSError as error:
            raise StoreUnavailable(f"PostgreSQL not reachable: {error}") from error
        await migrate(url)
    settings = Settings(database_url=url, snapshot_interval=5)
    store = await open_store(url)
    services = await build_services(settings, store=store)
    rows = []
    try:
        count, seconds = await bench_round_trips(services, args.answers)
        rows.append(
            [
                label,
                "answer round trips",
                f"{count}",
                f"{count / seconds:,.0f}/s",
                f"{1000 * seconds / count:.2f} ms",
            ]
        )
        for length in args.lengths:
            session_id = await build_long_session(
                services, store, length, settings.snapshot_interval
            )
            hydrate = await timed(partial(services.game.hydrate, session_id), args.repeats)
            replay = await timed(
                partial(services.game.replay, session_id), max(1, args.repeats // 5)
            )
            rows.append(
                [
                    label,
                    f"hydrate @ {length:,} events",
                    "",
                    f"{1000 * hydrate:.2f} ms",
                    f"full replay {1000 * replay:.1f} ms",
                ]
            )
    finally:
        await services.close()
    return rows


async def bench_issue_flow(learners: int, rounds: int) -> list[str]:
    """Issue 17's flow through the service on SQLite, ``learners`` at once: CPU per request."""
    from seeds.challenges import default_challenge_dir, seed_challenges

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'flow.db'}"
        await migrate(url)
        settings = Settings(database_url=url)
        services = await build_services(settings)
        try:
            await seed_challenges(services, [default_challenge_dir(settings.challenges_dir)])
            signed = [
                await services.accounts.register(f"flow{i}@example.com", "flow bench pass", f"F{i}")
                for i in range(5)
            ]
            spec = await services.catalog.latest_spec("python-functions")
            right = {
                s.id: next((i for i, c in enumerate(s.choices) if c.correct), 0) for s in spec.steps
            }
            requests = 0

            async def actor(n: int) -> AccessClaim:
                """What the API hands a session use case: the token's claim, which the
                use case's own statement checks (issue 17)."""
                nonlocal requests
                requests += 1
                who = signed[n % len(signed)]
                return AccessClaim(who.account.learner_id, who.account.role, who.token_version)

            async def learner(n: int, rounds: int) -> None:
                game = services.game
                for _ in range(rounds):
                    view = await game.create_session(await actor(n), "python-functions")
                    session = view.session_id
                    view = await game.start_session(await actor(n), session)
                    while view.step is not None and view.step.kind == "gate":
                        view = await game.continue_gate(await actor(n), session, view.step.id)
                    if view.step is not None and view.step.kind == "mcq":
                        good = right[view.step.id]
                        for answer in (1 - good if good in (0, 1) else 0, good):
                            key = os.urandom(8).hex()
                            await game.submit_answer(
                                await actor(n), session, view.step.id, answer, idempotency_key=key
                            )
                    await game.get_view(await actor(n), session)

            await learner(0, 1)  # warm: caches, statements
            requests = 0
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(learner(n, rounds) for n in range(learners)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            await services.close()
    return [
        "sqlite",
        f"issue flow, {learners} learners at once",
        f"{requests:,}",
        f"{requests / wall:,.0f}/s",
        f"CPU {1000 * cpu / requests:.3f} ms/request",
    ]


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--flow-only", action="store_true", help="only the issue flow through the service (SQLite)"
    )
    args = parser.parse_args()
    flow_rounds = 6 if args.quick else 20
    if args.flow_only:
        print_table(
            ["store", "what", "count", "rate / median", "notes"],
            [await bench_issue_flow(50, flow_rounds)],
        )
        return
    args.answers = 100 if args.quick else 1000
    args.repeats = 5 if args.quick else 50
    args.lengths = [10, 100, 1000] if args.quick else [10, 100, 1000, 10000]
    commands = 5000 if args.quick else 100_000

    print(
        f"machine: {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()} · {platform.platform()}"
    )
    count, seconds = bench_engine(commands)
    print_table(
        ["what", "commands", "rate", "per command"],
        [
            [
                "engine decide+evolve",
                f"{count:,}",
                f"{count / seconds:,.0f}/s",
                f"{1e6 * seconds / count:.1f} µs",
            ]
        ],
    )
    print()
    rows: list[list[str]] = [await bench_issue_flow(50, flow_rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        rows += await bench_store("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args)
    try:
        rows += await bench_store("postgresql", args.postgres_url, args)
    except StoreUnavailable as error:
        rows.append(["postgresql", "unavailable", "", str(error), ""])
    print_table(["store", "what", "count", "rate / median", "notes"], rows)


if __name__ == "__main__":
    asyncio.run(main())
