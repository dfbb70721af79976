"""Migration 0018: the duplicate indexes go, the lookups they served stay indexed, the append
function keeps 0017's signature and outcomes, and the downgrade restores 0017's schema.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text

from core.store import sql_base
from core.store.base import (
    AccessClaim,
    AccessRevoked,
    Learner,
    NewEvent,
    ReadModelChanges,
    SessionSummary,
    Snapshot,
)
from core.store.engine import create_store_engine
from core.store.migrate import alembic_config, migrate
from core.store.registry_buckets import RegistryBuckets
from core.store.sql import SqlStore
from tests.core.store.conftest import SQL_BACKENDS, reset_postgres, sqlite_url_in
from tests.core.store.old_append import OLD_ARGUMENTS, OldAppendStore

T0 = "2026-01-01T00:00:00+00:00"
ADA = AccessClaim("ada", "learner", 0)
DROPPED = {
    "game_events": {"ix_game_events_session_id", "ix_game_events_sequence_number"},
    "session_snapshots": {"ix_session_snapshots_session_id"},
}
MIGRATION = importlib.import_module("core.store.migrations.versions.0018_leaner_append")
PREVIOUS = importlib.import_module("core.store.migrations.versions.0017_append_checks_access")


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def _index_names(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {str(index["name"]) for index in inspector.get_indexes(table)} for table in DROPPED
    }


async def _move(url: str, action: str, revision: str) -> dict[str, set[str]]:
    """Run one Alembic step and return the indexes of the tables 0018 touches."""
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run, action, revision)
        async with engine.connect() as connection:
            return await connection.run_sync(_index_names)
    finally:
        await engine.dispose()


async def _url(backend: str, tmp_path: Path) -> str:
    return await reset_postgres() if backend == "postgres" else sqlite_url_in(tmp_path)


def _summary(status: str, score: float, passed: bool | None) -> SessionSummary:
    return SessionSummary("s", "ada", "git", 2, status, 1, 3, score, 10.0, passed, T0, T0)


async def _append_a_session(url: str, store_class: type[SqlStore] = SqlStore) -> SqlStore:
    """A learner's session of two appends, each with its index row (inserted, then updated),
    the second with a snapshot of a state long enough to be compressed."""
    store = store_class(url)
    await store.add_learner(Learner("ada", "Ada", "learner", T0))
    await store.append(
        "s",
        [NewEvent("Noted", {"n": 1})],
        0,
        recorded_at=T0,
        changes=ReadModelChanges(summary=_summary("active", 0.0, None)),
        access=ADA,
    )
    await store.append(
        "s",
        [NewEvent("Noted", {"n": 2}), NewEvent("Noted", {"n": 3})],
        1,
        idempotency_key="k",
        recorded_at=T0,
        changes=ReadModelChanges(
            summary=_summary("completed", 7.25, True),
            snapshot=Snapshot("s", 3, 1, {"text": "é" + "x" * 4000}),
        ),
        access=ADA,
    )
    return store


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_the_duplicate_indexes_go_and_come_back_with_a_downgrade(
    backend: str, tmp_path: Path
) -> None:
    url = await _url(backend, tmp_path)
    await migrate(url)
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            upgraded = await connection.run_sync(_index_names)
    finally:
        await engine.dispose()
    for table, names in DROPPED.items():
        assert not names & upgraded[table], table

    downgraded = await _move(url, "downgrade", "0017")
    for table, names in DROPPED.items():
        assert names <= downgraded[table], table

    again = await _move(url, "upgrade", "head")
    assert again == upgraded
    store = await _append_a_session(url)
    try:
        assert [e.version for e in await store.read_stream("s")] == [1, 2, 3]
        assert (await store.find_idempotent("s", "k")) is not None
        snapshot = await store.load_snapshot("s")
        assert snapshot is not None and snapshot.state == {"text": "é" + "x" * 4000}
        assert [s.score for s in await store.list_sessions("ada")] == [7.25]
    finally:
        await store.close()


async def _compression(url: str) -> tuple[str, bool]:
    """The snapshot state's compression ("" for the server's default), and whether this server
    has lz4 at all (the migration leaves the default where it has not)."""
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT attcompression::text FROM pg_attribute"
                    " WHERE attrelid = 'session_snapshots'::regclass AND attname = 'state'"
                )
            )
            has_lz4 = await connection.execute(text(MIGRATION.HAS_LZ4))
            return str(result.scalar_one()), bool(has_lz4.scalar())
    finally:
        await engine.dispose()


async def _function_source(url: str) -> list[tuple[int, str]]:
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text("SELECT pronargs, prosrc FROM pg_proc WHERE proname = 'curiouscore_append'")
            )
            return [(row[0], row[1]) for row in result]
    finally:
        await engine.dispose()


def _body(function: str) -> str:
    return function.split("$fn$")[1]


@pytest.mark.postgres
async def test_the_function_keeps_its_signature_and_the_downgrade_restores_0017s() -> None:
    url = await reset_postgres()
    await migrate(url)
    assert await _function_source(url) == [(OLD_ARGUMENTS, _body(MIGRATION.APPEND_FUNCTION))]
    compression, has_lz4 = await _compression(url)
    assert compression == ("l" if has_lz4 else "")

    await _move(url, "downgrade", "0017")
    assert await _function_source(url) == [(OLD_ARGUMENTS, _body(PREVIOUS.APPEND_FUNCTION))]
    assert (await _compression(url))[0] == ""  # the server's default_toast_compression

    await _move(url, "upgrade", "head")
    assert await _function_source(url) == [(OLD_ARGUMENTS, _body(MIGRATION.APPEND_FUNCTION))]


@pytest.mark.postgres
async def test_the_new_function_writes_what_0017s_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    """One session through 0017's function and one through 0018's (both called as the code
    before 0019 called them): the same rows everywhere (the same registry buckets chosen)."""
    monkeypatch.setattr(sql_base, "RegistryBuckets", lambda: RegistryBuckets(offset=0))
    rows = []
    for revision in ("0017", "head"):
        url = await reset_postgres()
        await migrate(url)
        if revision == "0017":
            await _move(url, "downgrade", "0017")
        store = await _append_a_session(url, OldAppendStore)
        try:
            with pytest.raises(AccessRevoked):
                await store.append(
                    "s",
                    [NewEvent("Noted", {"n": 4})],
                    3,
                    recorded_at=T0,
                    access=AccessClaim("ada", "learner", 1),
                )
            replay = await store.append(
                "s",
                [NewEvent("Noted", {"n": 2}), NewEvent("Noted", {"n": 3})],
                1,
                idempotency_key="k",
                recorded_at=T0,
                access=ADA,
            )
            assert replay.duplicate and (replay.first_version, replay.last_version) == (2, 3)
        finally:
            await store.close()
        rows.append(await _table_rows(url))
    assert rows[0] == rows[1]
    assert rows[1]["session_index"] == [
        ("s", "ada", "git", 2, "completed", 1, 3, 7.25, 10.0, True, T0, T0)
    ]
    assert [row[1] for row in rows[1]["session_snapshots"]] == [3]


async def _table_rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every written table's rows, without the columns that differ between runs."""
    queries = {
        "game_events": "SELECT session_id, sequence_number, event_type, schema_version, data,"
        " event_hash IS NOT NULL FROM game_events ORDER BY sequence_number",
        "stream_heads": "SELECT session_id, version, bucket FROM stream_heads",
        "idempotency_keys": "SELECT session_id, key, first_version, last_version, request_digest"
        " FROM idempotency_keys",
        "session_index": "SELECT * FROM session_index",
        "session_snapshots": "SELECT session_id, sequence_number, schema_version, state"
        " FROM session_snapshots",
    }
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            return {
                table: [tuple(row) for row in await connection.execute(text(query))]
                for table, query in queries.items()
            }
    finally:
        await engine.dispose()
