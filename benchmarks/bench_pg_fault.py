"""Fault benchmark: learners play through the HTTP API while the app's PostgreSQL backends are
terminated under them (``pg_terminate_backend``, as a restart, a failover or a proxy would drop
them); prints the requests, the errors by status and the actions applied twice.

The server is ``bench_api``'s (``curiouscore serve``, one worker, a free loopback port), on a
PostgreSQL database of its own (``--database-url``, emptied first); every learner signs up, then
all play ``--rounds`` rounds of issue 17's flow (create, start, continue through the gates, a
wrong then a right answer, the state) at once, while one of the app's backends, picked at random,
is terminated every ``--every-ms`` (``--all``: every one of them, as a restart or a failover).
Afterwards the event log is checked for an action applied twice: a step entered or closed twice,
an answer's attempt submitted twice, a session started twice.

Run from this checkout; the server is the code ``PYTHONPATH`` finds first, so the same script
measures an older checkout ("before") too::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_pg_fault.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_fault [--all]
    PYTHONPATH=/path/to/older/checkout .venv/bin/python benchmarks/bench_pg_fault.py --database-url …

Bounded: learners × rounds, ``bench_api.TIME_LIMIT_SECONDS``, loopback only; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from benchmarks.bench_api import (
    TIME_LIMIT_SECONDS,
    Connection,
    Samples,
    learner,
    reset_postgres,
    right_answers,
    sign_everyone_up,
    start_server,
    stop_server,
)

# One row per action applied more than once: what the event log must never hold.
_TWICE = """
SELECT session_id, event_type, data::jsonb ->> 'step_id', data::jsonb ->> 'attempt', count(*)
FROM game_events
WHERE event_type IN ('SessionStarted', 'StepEntered', 'StepClosed', 'AnswerSubmitted')
GROUP BY 1, 2, 3, 4 HAVING count(*) > 1
"""
_APP_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


async def terminate_backends(
    dsn: str, every_ms: float, stop: asyncio.Event, *, everyone: bool = False
) -> int:
    """Until ``stop``: every ``every_ms``, terminate one of the app's backends (``everyone``: all
    of them, as a restart or a failover does); return how many."""
    admin = await asyncpg.connect(dsn)
    terminated = 0
    try:
        while not stop.is_set():
            pids = [row["pid"] for row in await admin.fetch(_APP_BACKENDS)]
            for pid in pids if everyone else random.sample(pids, min(1, len(pids))):
                terminated += bool(await admin.fetchval("SELECT pg_terminate_backend($1)", pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_ms / 1000)
    finally:
        await admin.close()
    return terminated


async def run(args: argparse.Namespace) -> None:
    url = args.database_url
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    await reset_postgres(url)
    with tempfile.TemporaryDirectory(prefix="cc-bench-pg-fault-") as workdir:
        server, port = start_server(url, Path(workdir), "warning")
        connections = [Connection("127.0.0.1", port) for _ in range(args.learners)]
        try:
            samples = Samples()
            answers = right_answers()
            everyone = await sign_everyone_up(connections, samples)
            stop = asyncio.Event()
            faults = asyncio.create_task(
                terminate_backends(dsn, args.every_ms, stop, everyone=args.all)
            )
            started = time.perf_counter()
            try:
                await asyncio.wait_for(
                    asyncio.gather(
                        *(
                            learner(c, h, args.rounds, answers, samples, 0.0, "issue")
                            for c, h in zip(connections, everyone, strict=True)
                        )
                    ),
                    TIME_LIMIT_SECONDS,
                )
            finally:
                stop.set()
                terminated = await faults
            seconds = time.perf_counter() - started
        finally:
            for connection in connections:
                await connection.close()
            stop_server(server)
    admin = await asyncpg.connect(dsn)
    try:
        twice = await admin.fetch(_TWICE)
        events = await admin.fetchval("SELECT count(*) FROM game_events")
    finally:
        await admin.close()
    played = {k: v for k, v in samples.by_endpoint.items() if k != "register"}
    requests = sum(len(v) for v in played.values())
    errors = {k: v for k, v in sorted(samples.errors.items()) if not k.startswith("register")}
    print(
        f"{args.learners} learners x {args.rounds} rounds in {seconds:.1f} s,"
        f" {'every backend' if args.all else 'a backend'} terminated every {args.every_ms:g} ms"
        f" ({terminated} terminated)"
    )
    print(f"requests answered: {requests}; errors: {sum(errors.values())} {errors or ''}")
    print(f"events: {events}; actions applied twice: {len(twice)}")
    for row in twice[:10]:
        print("  ", tuple(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database of its own")
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every-ms", type=float, default=100.0)
    parser.add_argument(
        "--all", action="store_true", help="terminate every backend of the app each time"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
