"""The hot statements run on the driver connection (core/store/sql_raw.py, sql_append.py): they
give the same outcomes as SQLAlchemy did (clashes, duplicates, refused XP, unavailable database,
missing schema), in the statements the module docstrings promise."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from core.store import engine as store_engine
from core.store import sql_append
from core.store.base import (
    ConcurrencyError,
    NewEvent,
    ReadModelChanges,
    SchemaNotMigrated,
    SessionSummary,
    Snapshot,
    XpAlreadyGranted,
    XpGrant,
)
from core.store.engine import create_store_engine
from core.store.migrate import migrate
from core.store.reviews import ReviewItem
from core.store.sql import SqlStore
from core.store.sql_heads import STREAM_LOCK_SEED
from core.store.sql_raw import STATEMENTS
from tests.waiting import until

T0 = "2026-01-01T00:00:00+00:00"


def noted(n: int) -> NewEvent:
    return NewEvent("Noted", {"n": n})


def summary(session_id: str, version: int) -> SessionSummary:
    return SessionSummary(
        session_id, "learner", "challenge", 1, "active", version, 3, 1, 3.0, None, T0, T0
    )


@contextmanager
def counted(store: SqlStore) -> Iterator[tuple[Counter[str], list[str]]]:
    """Count the raw statements and the SQLAlchemy cursor executions run inside the block."""
    before = Counter(STATEMENTS)
    core: list[str] = []

    def on_execute(*args: Any) -> None:
        core.append(args[2])

    raw: Counter[str] = Counter()
    event.listen(store._engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield raw, core
    finally:
        event.remove(store._engine.sync_engine, "before_cursor_execute", on_execute)
        raw.update(Counter(STATEMENTS) - before)


async def test_an_append_runs_only_raw_statements_and_few_of_them(database_url: str) -> None:
    await migrate(database_url)
    store = SqlStore(database_url)
    try:
        await store.append("s", [noted(1)], 0, recorded_at=T0)
        changes = ReadModelChanges(
            summary=summary("s", 2), snapshot=Snapshot("s", 1, 1, {"step": 1})
        )
        with counted(store) as (raw, core):
            result = await store.append(
                "s", [noted(2), noted(3)], 1, idempotency_key="k", recorded_at=T0, changes=changes
            )
            events = await store.read_stream("s")
        assert (result.first_version, result.last_version) == (2, 3)
        assert [e.version for e in events] == [1, 2, 3]
        assert core == []
        if store._is_postgres:
            # One call of curiouscore_append (lock, tip, checks, writes), in autocommit.
            assert raw == Counter(append=1, read_stream=1)
        else:
            assert raw == Counter(
                begin=1, tip=1, events=1, head=1, key=1, summary=1, snapshot=1, commit=1,
                read_stream=1,
            )  # fmt: skip
        assert await store.find_idempotent("s", "k") == result
        assert (await store.load_snapshot("s")) == Snapshot("s", 1, 1, {"step": 1})
        assert (await store.get_session_summary("s")) == summary("s", 2)
    finally:
        await store.close()


async def test_a_row_committed_behind_the_heads_back_is_a_clash_not_a_database_error(
    database_url: str,
) -> None:
    """A writer that slips past the version check (here: one that wrote the row without moving
    the stream's head, committing while the append waits for it) hits the unique (stream,
    version) constraint on the driver connection; that is a ConcurrencyError, as before."""
    await migrate(database_url)
    store = SqlStore(database_url)
    url = make_url(database_url)
    row = (
        "INSERT INTO game_events (position, session_id, sequence_number, event_type,"
        " schema_version, data, recorded_at) VALUES (1, 's', 1, 'Noted', 1, '{}', 't')"
    )
    try:
        if store._is_postgres:
            other = create_store_engine(database_url, pooled=False)
            async with other.connect() as rival, other.connect() as watcher:
                await rival.execute(text(row))  # in a transaction left open
                append = asyncio.create_task(store.append("s", [noted(1)], 0, recorded_at=T0))

                async def waiting_on_the_row() -> bool:
                    query = text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()"
                    )
                    waiting = (await watcher.execute(query)).scalar_one()
                    await watcher.commit()  # pg_stat_activity is read once per transaction
                    return bool(waiting)

                await until(waiting_on_the_row, "the append to wait for the rival's row")
                await rival.commit()
                with pytest.raises(ConcurrencyError) as clash:
                    await append
            await other.dispose()
        else:
            assert url.database is not None
            rival_db = sqlite3.connect(url.database, isolation_level=None)
            rival_db.execute("BEGIN IMMEDIATE")
            rival_db.execute(row)
            begun = STATEMENTS["begin"]
            append = asyncio.create_task(store.append("s", [noted(1)], 0, recorded_at=T0))
            # The append's BEGIN IMMEDIATE found the database locked and waits in a thread.
            await until(lambda: STATEMENTS["begin"] > begun, "the append to begin")
            rival_db.execute("COMMIT")
            rival_db.close()
            with pytest.raises(ConcurrencyError) as clash:
                await append
        assert (clash.value.expected_version, clash.value.actual_version) == (0, 1)
        assert [e.version for e in await store.read_stream("s")] == [1]
    finally:
        await store.close()


async def test_racing_xp_claims_refuse_one_append_whole(database_url: str) -> None:
    await migrate(database_url)
    store = SqlStore(database_url)

    def grant_of(session_id: str) -> tuple[str, str, str, int, str]:
        return ("learner", "challenge", session_id, 10, T0)

    try:

        async def complete(session_id: str) -> object:
            changes = ReadModelChanges(
                summary=summary(session_id, 1),
                xp_grant=XpGrant(*grant_of(session_id)),
            )
            try:
                return await store.append(
                    session_id, [noted(1)], 0, recorded_at=T0, changes=changes
                )
            except XpAlreadyGranted as refused:
                return refused

        outcomes = await asyncio.gather(complete("a"), complete("b"))
        refused = [o for o in outcomes if isinstance(o, XpAlreadyGranted)]
        assert len(refused) == 1
        loser, winner = ("a", "b") if isinstance(outcomes[0], XpAlreadyGranted) else ("b", "a")
        assert await store.read_stream(loser) == []
        assert await store.get_session_summary(loser) is None
        assert [e.version for e in await store.read_stream(winner)] == [1]
        assert await store.learner_xp("learner") == (10, [XpGrant(*grant_of(winner))])
    finally:
        await store.close()


async def test_an_unmigrated_database_says_to_run_migrate_on_every_hot_path(
    database_url: str,
) -> None:
    store = SqlStore(database_url)
    try:
        for call in (
            store.append("s", [noted(1)], 0, recorded_at=T0),
            store.find_idempotent("s", "k"),
            store.get_token_state("learner"),
            store.save_snapshot(Snapshot("s", 1, 1, {})),
        ):
            with pytest.raises(SchemaNotMigrated, match="curiouscore db migrate"):
                await call
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_dropped_postgres_connection_is_replaced_under_the_request(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server drops the pooled connection; the raw path invalidates it and the request's
    statement runs again on a new one (``tests/core/store/test_lost_connection.py`` has the
    cases where the connection dies mid-statement)."""
    monkeypatch.setattr(store_engine, "PING_IDLE_SECONDS", 1e9)  # no ping: the raw path sees it
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0)
    admin = create_store_engine(postgres_url, pooled=False)

    async def backend() -> int:
        async with store._raw_read() as raw:  # the connection the raw path keeps
            row = await raw.fetchrow("test", "SELECT pg_backend_pid()", ())
        assert row is not None
        return int(row[0])

    try:
        await store.append("s", [noted(1)], 0, recorded_at=T0)
        for call in (
            lambda: store.read_stream("s"),
            lambda: store.get_token_state("learner"),
            lambda: store.append("s", [noted(2)], 1, recorded_at=T0),
        ):
            pid = await backend()
            async with admin.connect() as connection:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await call()
            assert await backend() != pid
    finally:
        await admin.dispose()
        await store.close()
    assert [e.version for e in await _events(postgres_url)] == [1, 2]


async def _events(url: str) -> list[Any]:
    store = SqlStore(url)
    try:
        return await store.read_stream("s")
    finally:
        await store.close()


@pytest.mark.postgres
async def test_the_global_append_lock_still_serialises_appends(postgres_url: str) -> None:
    await migrate(postgres_url)
    store = SqlStore(postgres_url, serialize_appends=True)
    try:
        await asyncio.gather(
            *(store.append(f"s{i}", [noted(1), noted(2)], 0, recorded_at=T0) for i in range(4))
        )
        with pytest.raises(ConcurrencyError):
            await store.append("s0", [noted(3)], 1, recorded_at=T0)
        events = await store.read_all(0)
        assert sorted((e.stream_id, e.version) for e in events) == [
            (f"s{i}", v) for i in range(4) for v in (1, 2)
        ]
        assert [e.position for e in events] == sorted({e.position for e in events})
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_cancelled_append_leaves_no_half_used_connection_in_the_pool(
    postgres_url: str,
) -> None:
    """A request cancelled while its append waits on the database (the client went away) rolls
    back: asyncpg cancels the call on the server. The pool's only connection, back in the pool,
    serves the next append (asyncpg recovers a connection whose statement was cancelled).

    (An append cancelled after the server ran its call may have committed, like any commit whose
    answer is lost: the next append is then refused with the stream's actual version.)"""
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0)
    other = create_store_engine(postgres_url, pooled=False)
    try:
        await store.append("s", [noted(1)], 0, recorded_at=T0)
        async with other.connect() as rival, other.connect() as watcher:

            async def waiting_on_locks() -> int:
                query = text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
                waiting = int((await watcher.execute(query)).scalar_one())
                await watcher.commit()  # pg_stat_activity is read once per transaction
                return waiting

            # The rival holds the stream's lock, so the append's call waits for it.
            await rival.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended('s', :seed))"),
                {"seed": STREAM_LOCK_SEED},
            )
            append = asyncio.create_task(store.append("s", [noted(2)], 1, recorded_at=T0))
            await until(waiting_on_locks, "the append to wait for the lock")
            append.cancel()
            with pytest.raises(asyncio.CancelledError):
                await append
            await until(lambda: _none(waiting_on_locks()), "the server to cancel the waiting call")
            await rival.rollback()
        assert (await store.append("s", [noted(2)], 1, recorded_at=T0)).last_version == 2
        assert [e.version for e in await store.read_stream("s")] == [1, 2]
    finally:
        await other.dispose()
        await store.close()


async def _none(count: Any) -> bool:
    return await count == 0


def review_item(session_id: str) -> ReviewItem:
    return ReviewItem(
        f"r-{session_id}", session_id, "learner", "challenge", 1, "step", 1, "an answer",
        "sample", {"passed": True}, T0,
    )  # fmt: skip


async def test_review_rows_written_through_core_join_the_raw_transaction(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review-queue rows an append carries go through SQLAlchemy on the append's own
    connection: they commit with the events, and roll back with them."""
    await migrate(database_url)
    store = SqlStore(database_url)
    write = sql_append.write_review_changes

    async def write_then_fail(*args: Any) -> None:
        await write(*args)
        raise RuntimeError("the append fails after its review rows were written")

    try:
        changes = ReadModelChanges(review_items=(review_item("kept"),))
        await store.append("kept", [noted(1)], 0, recorded_at=T0, changes=changes)
        monkeypatch.setattr(sql_append, "write_review_changes", write_then_fail)
        changes = ReadModelChanges(review_items=(review_item("lost"),))
        with pytest.raises(RuntimeError):
            await store.append("lost", [noted(1)], 0, recorded_at=T0, changes=changes)
        assert await store.get_review_item("r-kept") == review_item("kept")
        assert [e.version for e in await store.read_stream("kept")] == [1]
        assert await store.get_review_item("r-lost") is None
        assert await store.read_stream("lost") == []
    finally:
        await store.close()


async def test_the_learner_row_read_by_the_access_check_answers_get_learner_for_a_moment(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a session asks whether the learner exists right after the token check read the
    learner's row: that row answers, without a round trip, for LEARNER_ROW_SECONDS; a role
    change forgets it."""
    from core.store import sql_base
    from core.store.base import Learner

    await migrate(database_url)
    store = SqlStore(database_url)
    try:
        learner = Learner("learner", "Ada", "learner", T0)
        await store.add_learner(learner)
        assert await store.get_learner("nobody") is None
        with counted(store) as (raw, core):
            assert await store.get_token_state("learner") is not None
            assert await store.get_learner("learner") == learner
        assert raw == Counter(token_state=1) and core == []
        assert await store.set_learner_role("learner", "admin")
        assert (await store.get_learner("learner")).role == "admin"  # type: ignore[union-attr]
        await store.get_token_state("learner")
        monkeypatch.setattr(sql_base, "LEARNER_ROW_SECONDS", 0.0)
        with counted(store) as (raw, core):
            assert await store.get_learner("learner") == Learner("learner", "Ada", "admin", T0)
        assert raw == Counter(learner=1)
    finally:
        await store.close()
