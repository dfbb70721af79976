"""A server warms its PostgreSQL store before it listens (``core.store.sql_warm``): the pool's
connections open, the hot statements prepared on each, nothing written; a slow or unreachable
database delays startup by at most ``WARM_UP_SECONDS`` and never stops it."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event

from core.bootstrap import build_services, warm_up
from core.config import Settings
from core.store.base import NewEvent
from core.store.migrate import migrate
from core.store.registry_buckets import CHOSEN_BUCKETS
from core.store.sql import SqlStore
from core.store.sql_accounts import _TOKEN_STATE
from core.store.sql_append import _APPEND
from core.store.sql_events import _READ_STREAM
from tests.core.store.conftest import count_rows
from tests.waiting import until


@pytest.mark.postgres
async def test_warm_up_opens_the_pool_and_prepares_the_hot_statements_on_every_connection(
    postgres_url: str,
) -> None:
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=3, max_overflow=5)
    opened = 0

    def on_connect(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(store._engine.sync_engine, "connect", on_connect)
    try:
        assert await store.warm_up() == 3
        assert opened == 3
        assert store._tails_seeded

        prepared: list[set[str]] = []

        async def statements_of_one() -> None:
            async with store._raw_read() as raw:
                rows = await raw.fetch("test", "SELECT statement FROM pg_prepared_statements", ())
                prepared.append({row[0] for row in rows})
                # Held until all three are: each caller then has a connection of its own.
                await until(lambda: len(prepared) == 3, "three connections held at once")

        await asyncio.gather(*(statements_of_one() for _ in range(3)))
        for statements in prepared:
            assert {_TOKEN_STATE.postgres, _READ_STREAM.postgres, _APPEND} <= statements
        # Nothing was written but the registry directory and its empty tails (before the first
        # create: core.store.integrity), and the hot path reuses those connections.
        assert await count_rows(postgres_url, "stream_heads") == 0
        assert await count_rows(postgres_url, "stream_registry") == CHOSEN_BUCKETS + 1
        await asyncio.gather(*(store.read_stream(f"s{i}") for i in range(10)))
        assert opened == 3
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_connection_opened_after_the_warm_up_is_warmed_as_it_opens(
    postgres_url: str,
) -> None:
    """The pool's later connections (overflow, replacements) have the hot statements prepared,
    the append function's writing half run and rolled back, before their first request."""
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=1, max_overflow=2)
    try:
        assert await store.warm_up() == 1
        # The raw path keeps the one pooled connection: this checkout opens another.
        fairy = await store._engine.raw_connection()
        try:
            rows = await fairy.driver_connection.fetch(
                "SELECT statement FROM pg_prepared_statements"
            )
            assert {_TOKEN_STATE.postgres, _READ_STREAM.postgres, _APPEND} <= {
                row[0] for row in rows
            }
            assert not fairy.driver_connection.is_in_transaction()
        finally:
            fairy.close()
        assert await count_rows(postgres_url, "stream_registry") == CHOSEN_BUCKETS + 1
        for table in (
            "stream_heads",
            "game_events",
            "session_index",
            "session_snapshots",
            "idempotency_keys",
        ):
            assert await count_rows(postgres_url, table) == 0, table
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        assert [e.version for e in await store.read_stream("s")] == [1]
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_warmed_store_appends_as_before(postgres_url: str) -> None:
    """The warm-up's append call writes nothing and leaves the tails right for the first create."""
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=2, max_overflow=0)
    try:
        await store.warm_up()
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        assert [e.version for e in await store.read_stream("s")] == [1]
        assert await count_rows(postgres_url, "stream_heads") == 1
    finally:
        await store.close()


async def test_warm_up_does_nothing_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    store = SqlStore(url)
    try:
        assert await store.warm_up() == 0
    finally:
        await store.close()


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never answers (a database that hangs)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_database_that_hangs_delays_startup_by_the_bound_only(
    silent_server: int, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        env="test",
        database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{silent_server}/none",
        warm_up_seconds=0.5,
    )
    services = await build_services(settings)
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="core.bootstrap"):
            await warm_up(services)  # does not raise
        assert time.monotonic() - started < 5
        assert "warm-up stopped" in caplog.text
        assert "WARM_UP_SECONDS=0.5" in caplog.text
    finally:
        await services.close()


async def test_the_adapters_own_warm_up_is_held_to_the_same_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What the API warms (its renderer) runs inside ``warm_up``'s bound: one that never ends
    stops with it, and the server starts."""
    services = await build_services(
        Settings(env="test", database_url="memory://", warm_up_seconds=0.5)
    )
    never = asyncio.Event()
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="core.bootstrap"):
            await warm_up(services, also=never.wait)  # does not raise
        assert time.monotonic() - started < 5
        assert "WARM_UP_SECONDS=0.5" in caplog.text
    finally:
        await services.close()


async def test_an_unreachable_database_is_logged_and_startup_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        env="test", database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{closed_port()}/none"
    )
    services = await build_services(settings)
    try:
        with caplog.at_level(logging.WARNING, logger="core.bootstrap"):
            await warm_up(services)
        assert "warm-up stopped" in caplog.text
        assert "unavailable" in caplog.text
    finally:
        await services.close()


async def test_warm_up_seconds_zero_leaves_the_store_cold(postgres_url: str) -> None:
    await migrate(postgres_url)
    settings = Settings(env="test", database_url=postgres_url, warm_up_seconds=0)
    services = await build_services(settings)
    try:
        await warm_up(services)
        store = services.store
        assert isinstance(store, SqlStore)
        assert store._engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    finally:
        await services.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
