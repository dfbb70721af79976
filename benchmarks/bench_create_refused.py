"""What a create refused once costs our process, counted: two stores (two processes) on one
PostgreSQL database, pinned to one registry bucket; in ``refused`` mode the second store registers
a stream before each of the first's creates, so each is refused once and chained again.

Run: ``valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next python -m
benchmarks.bench_create_refused URL plain|refused N`` for two values of N and take the difference
over the difference in N (only the first store's creates are counted: each runs inside
``itertools.starmap``'s C ``next``). The database is emptied first: never the test database.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any

from benchmarks.bench_api import reset_postgres
from core.store.base import NewEvent
from core.store.integrity import ChainKeys
from core.store.registry_buckets import RegistryBuckets
from core.store.sql import SqlStore

KEYS = ChainKeys.from_secrets("a key of at least sixteen bytes")
T0 = "2026-01-01T00:00:00+00:00"


def _events() -> list[NewEvent]:
    return [NewEvent("Noted", {"n": 1, "text": "x" * 200})]


def _counted(loop: asyncio.AbstractEventLoop, call: Coroutine[Any, Any, Any]) -> None:
    next(itertools.starmap(loop.run_until_complete, [(call,)]))  # callgrind's toggle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("mode", choices=["plain", "refused"])
    parser.add_argument("creates", type=int)
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(reset_postgres(args.url))
    first, second = SqlStore(args.url, chain_keys=KEYS), SqlStore(args.url, chain_keys=KEYS)
    first._buckets, second._buckets = RegistryBuckets(1), RegistryBuckets(1)
    try:
        for i in range(5):  # warm-up: connections, prepared statements, tails read
            loop.run_until_complete(first.append(f"w{i}", _events(), 0, recorded_at=T0))
            loop.run_until_complete(second.append(f"v{i}", _events(), 0, recorded_at=T0))
        for i in range(args.creates):
            if args.mode == "refused":
                loop.run_until_complete(second.append(f"b{i}", _events(), 0, recorded_at=T0))
            _counted(loop, first.append(f"a{i}", _events(), 0, recorded_at=T0))
    finally:
        loop.run_until_complete(first.close())
        loop.run_until_complete(second.close())
        loop.close()


if __name__ == "__main__":
    main()
