"""One PostgreSQL append call, counted: the issue flow's five appends per session replayed through
``SqlStore.append`` one at a time (a session recorded from ``bench_api``:
benchmarks/append_session.json), with its learner's access claim, keys, index rows and snapshot.

Run: ``python -m benchmarks.bench_append_call URL SESSIONS [--migrate]``. The timed part (after
a warm-up of two sessions) runs inside ``itertools.starmap``'s C ``next``, so callgrind can count
exactly it: ``valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next python
-m benchmarks.bench_append_call URL 40`` gives our process's instructions for 200 appends. For the
backend's, run a private PostgreSQL under ``valgrind --trace-children=yes`` and difference two
runs of different ``SESSIONS`` (docs/event-log.md, "A cheaper append call").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.store.base import (
    AccessClaim,
    Learner,
    NewEvent,
    ReadModelChanges,
    SessionSummary,
    Snapshot,
)
from core.store.json_codec import EncodedMapping, dump_json
from core.store.migrate import migrate
from core.store.sql import SqlStore

SESSION = Path(__file__).with_name("append_session.json")
T0 = "2026-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Recorded:
    """The recorded session: its appends (events grouped as they were appended), keyed ones by
    first version, its last index row and its snapshot."""

    appends: list[list[dict[str, Any]]]
    keys: dict[int, dict[str, Any]]
    summary: dict[str, Any]
    snapshot: dict[str, Any]

    @classmethod
    def load(cls) -> Recorded:
        data = json.loads(SESSION.read_text())
        keys = {key["first"]: key for key in data["keys"]}
        appends: list[list[dict[str, Any]]] = []
        for event in data["events"]:
            same_append = appends and appends[-1][-1]["at"] == event["at"]
            if same_append and event["v"] not in keys:
                appends[-1].append(event)
            else:
                appends.append([event])
        # The state carries its text, as the service's snapshots do (``EncodedMapping``, written
        # by pydantic-core in core/service/snapshots.py): the store writes it as it is. Given as a
        # plain mapping, the store encoded it again on every snapshot, ~77,000 instructions per
        # append that the application does not spend.
        snapshot = dict(data["snapshot"])
        snapshot["state"] = EncodedMapping(snapshot["state"], dump_json(snapshot["state"]))
        return cls(appends, keys, data["summary"], snapshot)


async def play(store: SqlStore, recorded: Recorded, sessions: int) -> None:
    """Append ``sessions`` new sessions as recorded, one append at a time."""
    s, snap = recorded.summary, recorded.snapshot
    access = AccessClaim(s["learner_id"], "learner", 0)
    for _ in range(sessions):
        sid = str(uuid.uuid4())
        for events in recorded.appends:
            first, last = events[0]["v"], events[-1]["v"]
            key = recorded.keys.get(first)
            summary = SessionSummary(
                sid, s["learner_id"], s["challenge_id"], s["challenge_version"], s["status"],
                s["step_index"], s["total_steps"], float(s["score"]), float(s["max_score"]),
                s["passed"], s["created_at"], events[0]["at"],
            )  # fmt: skip
            snapshot = None
            if snap["v"] == last:
                snapshot = Snapshot(sid, snap["v"], snap["schema"], snap["state"])
            await store.append(
                sid,
                [NewEvent(e["type"], e["data"], e["schema"]) for e in events],
                first - 1,
                idempotency_key=None if key is None else uuid.uuid4().hex[:16],
                request_digest=None if key is None else key["digest"],
                recorded_at=events[0]["at"],
                changes=ReadModelChanges(summary=summary, snapshot=snapshot),
                access=access,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="a PostgreSQL store URL (postgresql+asyncpg://...)")
    parser.add_argument("sessions", type=int, help="sessions timed (five appends each)")
    parser.add_argument("--migrate", action="store_true")
    args = parser.parse_args()
    recorded = Recorded.load()
    loop = asyncio.new_event_loop()

    async def open_store() -> SqlStore:
        if args.migrate:
            await migrate(args.url)
        store = SqlStore(args.url)
        with contextlib.suppress(ValueError):  # added by an earlier run
            await store.add_learner(Learner(recorded.summary["learner_id"], "Ada", "learner", T0))
        return store

    store = loop.run_until_complete(open_store())
    loop.run_until_complete(play(store, recorded, 2))  # warm-up: prepared statements, caches
    timed: Coroutine[Any, Any, None] = play(store, recorded, args.sessions)
    start = time.perf_counter()
    next(itertools.starmap(loop.run_until_complete, [(timed,)]))  # callgrind's toggle
    elapsed = time.perf_counter() - start
    appends = args.sessions * len(recorded.appends)
    print(f"{appends} appends, {elapsed / appends * 1e6:.0f} µs each (wall clock)")
    loop.run_until_complete(store.close())
    loop.close()


if __name__ == "__main__":
    main()
