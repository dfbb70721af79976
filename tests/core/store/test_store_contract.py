"""One contract for every store (in-memory, SQLite, PostgreSQL), plus the SQL stores' migrations.

The ``store`` fixture runs each contract test once per implementation; the tests at the end use
``database_url`` (SQLite and PostgreSQL only) for what only a database has: schema, raw rows,
connectivity.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text

from core.store.base import (
    AppendResult,
    ChallengeRecord,
    ConcurrencyError,
    IdempotencyKeyReused,
    LeaderboardRow,
    Learner,
    NewEvent,
    ReadModelChanges,
    SessionSummary,
    Snapshot,
    Store,
    StoredEvent,
    StoreUnavailable,
    XpAlreadyGranted,
    XpGrant,
)
from core.store.engine import create_store_engine
from core.store.factory import open_store
from core.store.memory import InMemoryStore
from core.store.migrate import current_head, migrate
from core.store.sql import SqlStore
from core.store.tables import game_events, metadata

T0 = "2025-01-01T10:00:00+00:00"
T1 = "2025-01-01T11:00:00+00:00"
T2 = "2025-01-01T12:00:00+00:00"
T3 = "2025-01-01T13:00:00+00:00"


def answered(n: int) -> NewEvent:
    return NewEvent("AnswerGraded", {"n": n})


# -- appending and reading ------------------------------------------------------------------------


async def test_appended_events_read_back_in_order_with_versions_and_growing_positions(
    store: Store,
) -> None:
    first = await store.append("s1", [answered(1), answered(2)], 0, recorded_at=T0)
    second = await store.append(
        "s1", [NewEvent("HintGiven", {"hint": 1}, schema_version=2)], 2, recorded_at=T1
    )

    events = await store.read_stream("s1")

    assert (first, second) == (AppendResult(1, 2), AppendResult(3, 3))
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.type for e in events] == ["AnswerGraded", "AnswerGraded", "HintGiven"]
    assert [e.data for e in events] == [{"n": 1}, {"n": 2}, {"hint": 1}]
    assert [e.schema_version for e in events] == [1, 1, 2]
    assert [e.recorded_at for e in events] == [T0, T0, T1]
    assert {e.stream_id for e in events} == {"s1"}
    positions = [e.position for e in events]
    assert positions == sorted(set(positions))
    assert positions[0] >= 1


async def test_read_stream_after_version_returns_only_later_events(store: Store) -> None:
    await store.append("s1", [answered(n) for n in range(1, 6)], 0, recorded_at=T0)

    assert [e.version for e in await store.read_stream("s1", after_version=3)] == [4, 5]
    assert await store.read_stream("s1", after_version=5) == []
    assert await store.read_stream("unknown") == []


async def test_read_all_spans_streams_in_position_order_with_limit_and_after_position(
    store: Store,
) -> None:
    await store.append("a", [answered(1)], 0, recorded_at=T0)
    await store.append("b", [answered(2), answered(3)], 0, recorded_at=T0)
    await store.append("a", [answered(4)], 1, recorded_at=T0)

    everything = await store.read_all()
    first_two = await store.read_all(limit=2)
    after_second = await store.read_all(after_position=everything[1].position)

    assert [(e.stream_id, e.version, e.data["n"]) for e in everything] == [
        ("a", 1, 1),
        ("b", 1, 2),
        ("b", 2, 3),
        ("a", 2, 4),
    ]
    assert [e.position for e in everything] == sorted({e.position for e in everything})
    assert first_two == everything[:2]
    assert after_second == everything[2:]
    assert await store.read_all(after_position=everything[-1].position) == []


async def test_stream_version_and_stream_ids_follow_appends(store: Store) -> None:
    assert await store.stream_version("s1") == 0
    assert await store.list_stream_ids() == []

    await store.append("s2", [answered(1)], 0, recorded_at=T0)
    await store.append("s1", [answered(1), answered(2)], 0, recorded_at=T0)

    assert await store.stream_version("s1") == 2
    assert await store.stream_version("s2") == 1
    assert await store.list_stream_ids() == ["s1", "s2"]


async def test_append_without_events_is_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="at least one event"):
        await store.append("s1", [], 0, recorded_at=T0)

    assert await store.stream_version("s1") == 0


async def test_event_data_round_trips_unicode_and_nested_structures_exactly(store: Store) -> None:
    data = {
        "answer": "naïve café — 日本語 🚀",
        "nested": {"list": [1, 2.5, None, True, False, {"deep": ["x", {"y": []}]}], "empty": {}},
        "zero": 0,
        "negative": -3,
        "float": 0.1,
        "quote": 'he said "hi"\n\ttab \\ backslash',
    }

    await store.append("s1", [NewEvent("AnswerSubmitted", data)], 0, recorded_at=T0)
    [stored] = await store.read_stream("s1")
    [from_all] = await store.read_all()

    assert stored.data == data
    assert from_all.data == data


async def test_stored_data_is_not_changed_by_mutating_the_callers_objects(store: Store) -> None:
    data: dict[str, object] = {"items": [1, 2]}
    await store.append("s1", [NewEvent("A", data)], 0, recorded_at=T0)

    data["items"] = "changed"
    [first_read] = await store.read_stream("s1")
    first_read.data["items"].append(3)
    [second_read] = await store.read_stream("s1")

    assert second_read.data == {"items": [1, 2]}


# -- optimistic concurrency -----------------------------------------------------------------------


async def test_stale_expected_version_raises_concurrency_error_with_the_actual_version(
    store: Store,
) -> None:
    await store.append("s1", [answered(1), answered(2)], 0, recorded_at=T0)

    with pytest.raises(ConcurrencyError) as raised:
        await store.append("s1", [answered(3)], 1, recorded_at=T1)

    assert (raised.value.stream_id, raised.value.expected_version) == ("s1", 1)
    assert raised.value.actual_version == 2
    assert await store.stream_version("s1") == 2


async def test_expected_version_ahead_of_the_stream_is_a_clash_too(store: Store) -> None:
    with pytest.raises(ConcurrencyError) as raised:
        await store.append("s1", [answered(1)], 3, recorded_at=T0)

    assert raised.value.actual_version == 0
    assert await store.read_stream("s1") == []


async def test_fifty_concurrent_appends_at_the_same_version_have_exactly_one_winner(
    store: Store,
) -> None:
    await store.append("s1", [answered(0)], 0, recorded_at=T0)

    results = await asyncio.gather(
        *(
            store.append("s1", [answered(i), answered(i + 100)], 1, recorded_at=T1)
            for i in range(50)
        ),
        return_exceptions=True,
    )

    winners = [i for i, r in enumerate(results) if isinstance(r, AppendResult)]
    clashes = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(winners) == 1, results
    assert len(clashes) == 49, results
    assert results[winners[0]] == AppendResult(2, 3)
    assert {c.actual_version for c in clashes} == {3}
    events = await store.read_stream("s1")
    assert [e.data["n"] for e in events] == [0, winners[0], winners[0] + 100]


# -- idempotency ----------------------------------------------------------------------------------


async def test_retry_with_the_same_key_returns_the_original_result_and_appends_nothing(
    store: Store,
) -> None:
    original = await store.append(
        "s1", [answered(1), answered(2)], 0, idempotency_key="req-1", recorded_at=T0
    )

    retry = await store.append(
        "s1", [answered(1), answered(2)], 0, idempotency_key="req-1", recorded_at=T1
    )

    assert original == AppendResult(1, 2, duplicate=False)
    assert retry == AppendResult(1, 2, duplicate=True)
    assert [e.version for e in await store.read_stream("s1")] == [1, 2]
    assert await store.find_idempotent("s1", "req-1") == AppendResult(1, 2)
    assert await store.find_idempotent("s1", "req-2") is None


async def test_retry_with_a_stale_expected_version_is_still_a_duplicate(store: Store) -> None:
    await store.append("s1", [answered(1)], 0, idempotency_key="req-1", recorded_at=T0)
    await store.append("s1", [answered(2)], 1, idempotency_key="req-2", recorded_at=T1)

    retry = await store.append("s1", [answered(1)], 0, idempotency_key="req-1", recorded_at=T2)

    assert retry == AppendResult(1, 1, duplicate=True)
    assert await store.stream_version("s1") == 2


async def test_same_key_on_another_stream_is_independent(store: Store) -> None:
    await store.append("s1", [answered(1)], 0, idempotency_key="req-1", recorded_at=T0)

    other = await store.append("s2", [answered(1)], 0, idempotency_key="req-1", recorded_at=T0)

    assert other == AppendResult(1, 1, duplicate=False)
    assert await store.stream_version("s2") == 1
    assert await store.find_idempotent("s2", "req-1") == AppendResult(1, 1)


async def test_concurrent_retries_with_one_key_append_once_and_the_rest_are_duplicates(
    store: Store,
) -> None:
    results = await asyncio.gather(
        *(
            store.append("s1", [answered(1)], 0, idempotency_key="req-1", recorded_at=T0)
            for _ in range(10)
        )
    )

    assert sorted(r.duplicate for r in results) == [False] + [True] * 9
    assert {(r.first_version, r.last_version) for r in results} == {(1, 1)}
    assert await store.stream_version("s1") == 1


async def test_a_failed_append_does_not_record_its_idempotency_key(store: Store) -> None:
    await store.append("s1", [answered(1)], 0, recorded_at=T0)

    with pytest.raises(ConcurrencyError):
        await store.append("s1", [answered(2)], 0, idempotency_key="req-1", recorded_at=T1)

    assert await store.find_idempotent("s1", "req-1") is None
    result = await store.append("s1", [answered(2)], 1, idempotency_key="req-1", recorded_at=T1)
    assert result == AppendResult(2, 2)


# -- snapshots ------------------------------------------------------------------------------------


async def test_snapshots_are_saved_loaded_replaced_and_deleted(store: Store) -> None:
    assert await store.load_snapshot("s1") is None

    await store.save_snapshot(Snapshot("s1", 3, 1, {"step": 2, "note": "é"}))
    await store.save_snapshot(Snapshot("s2", 1, 1, {"step": 0}))
    loaded = await store.load_snapshot("s1")
    await store.save_snapshot(Snapshot("s1", 7, 2, {"step": 5, "hints": [1, 2]}))
    replaced = await store.load_snapshot("s1")
    deleted = await store.delete_snapshots()

    assert loaded == Snapshot("s1", 3, 1, {"step": 2, "note": "é"})
    assert replaced == Snapshot("s1", 7, 2, {"step": 5, "hints": [1, 2]})
    assert deleted == 2
    assert await store.load_snapshot("s1") is None
    assert await store.load_snapshot("s2") is None
    assert await store.delete_snapshots() == 0


# -- challenge content ----------------------------------------------------------------------------


def challenge(challenge_id: str, version: int, title: str = "t") -> ChallengeRecord:
    return ChallengeRecord(
        challenge_id=challenge_id,
        version=version,
        content_hash=f"sha256:{challenge_id}:{version}",
        definition={"title": title, "steps": [{"id": "s1", "points": 2.5}]},
        created_at=T0,
    )


async def test_challenge_versions_are_stored_and_the_latest_is_found(store: Store) -> None:
    for record in [challenge("sql-joins", 1), challenge("sql-joins", 2, "v2"), challenge("git", 1)]:
        await store.put_challenge_version(record)

    assert await store.get_challenge_version("sql-joins", 1) == challenge("sql-joins", 1)
    assert await store.get_challenge_version("sql-joins", 3) is None
    assert await store.latest_challenge_version("sql-joins") == challenge("sql-joins", 2, "v2")
    assert await store.latest_challenge_version("missing") is None
    assert await store.list_latest_challenges() == [
        challenge("git", 1),
        challenge("sql-joins", 2, "v2"),
    ]
    assert await store.latest_challenge_versions() == {"git": 1, "sql-joins": 2}
    assert await store.latest_challenge_versions("sql-joins") == {"sql-joins": 2}
    assert await store.latest_challenge_versions("missing") == {}


async def test_an_existing_challenge_version_is_rejected(store: Store) -> None:
    await store.put_challenge_version(challenge("git", 1, "original"))

    with pytest.raises(ValueError, match="already exists"):
        await store.put_challenge_version(challenge("git", 1, "edited"))

    assert await store.get_challenge_version("git", 1) == challenge("git", 1, "original")


# -- learners, session index, XP ------------------------------------------------------------------


async def test_learners_are_added_and_found(store: Store) -> None:
    ada = Learner("ada", "Ada Lovelace", "learner", T0)

    await store.add_learner(ada)

    assert await store.get_learner("ada") == ada
    assert await store.get_learner("bob") is None
    with pytest.raises(ValueError, match="already exists"):
        await store.add_learner(Learner("ada", "Someone Else", "admin", T1))
    assert await store.get_learner("ada") == ada


def summary(session_id: str, learner_id: str, updated_at: str, **changes: Any) -> SessionSummary:
    base = SessionSummary(
        session_id=session_id,
        learner_id=learner_id,
        challenge_id="git",
        challenge_version=1,
        status="active",
        step_index=0,
        total_steps=4,
        score=0.0,
        max_score=10.0,
        passed=None,
        created_at=T0,
        updated_at=updated_at,
    )
    return replace(base, **changes)


async def test_session_summaries_are_upserted_and_listed_most_recent_first(store: Store) -> None:
    await store.upsert_session_summary(summary("a", "ada", T1))
    await store.upsert_session_summary(summary("b", "ada", T2))
    await store.upsert_session_summary(summary("c", "bob", T3))
    finished = summary("a", "ada", T3, status="completed", step_index=4, score=7.5, passed=True)
    await store.upsert_session_summary(finished)
    await store.upsert_session_summary(summary("d", "ada", T2, passed=False))

    assert await store.get_session_summary("a") == finished
    assert await store.get_session_summary("missing") is None
    assert [s.session_id for s in await store.list_sessions("ada")] == ["a", "b", "d"]
    assert (await store.list_sessions("ada"))[2].passed is False
    assert await store.list_sessions("nobody") == []


async def test_a_challenges_streams_are_read_in_pages_of_sessions_listed_by_the_index(
    store: Store,
) -> None:
    sessions = {"s2": "git", "s1": "git", "s3": "sql", "s4": "git", "S0": "git"}
    for n, (sid, challenge) in enumerate(sessions.items()):
        await store.append(
            sid,
            [answered(n), answered(n + 10)],
            0,
            recorded_at=T0,
            changes=ReadModelChanges(summary=summary(sid, "ada", T1, challenge_id=challenge)),
        )
    await store.append("s1", [answered(99)], 2, recorded_at=T1)  # a later event of s1
    await store.upsert_session_summary(summary("s1", "bob", T3, challenge_version=2))

    def streams(events: list[StoredEvent]) -> list[tuple[str, int, int]]:
        return [(e.stream_id, e.version, e.data["n"]) for e in events]

    first = await store.read_challenge_streams("git", "", 2)
    assert streams(first) == [
        ("S0", 1, 4),
        ("S0", 2, 14),
        ("s1", 1, 1),
        ("s1", 2, 11),
        ("s1", 3, 99),
    ]
    rest = await store.read_challenge_streams("git", "s1", 2)
    assert streams(rest) == [("s2", 1, 0), ("s2", 2, 10), ("s4", 1, 3), ("s4", 2, 13)]
    assert await store.read_challenge_streams("git", "s4", 2) == []
    assert streams(await store.read_challenge_streams("sql")) == [("s3", 1, 2), ("s3", 2, 12)]
    assert await store.read_challenge_streams("nothing") == []


async def test_xp_is_granted_once_per_learner_and_challenge(store: Store) -> None:
    first = await store.grant_xp(XpGrant("ada", "git", "session-1", 50, T1))
    again = await store.grant_xp(XpGrant("ada", "git", "session-2", 80, T2))

    assert (first, again) == (True, False)
    assert await store.has_xp_grant("ada", "git")
    assert not await store.has_xp_grant("ada", "sql-joins")
    assert await store.learner_xp("ada") == (50, [XpGrant("ada", "git", "session-1", 50, T1)])


async def test_learner_xp_totals_grants_oldest_first(store: Store) -> None:
    await store.grant_xp(XpGrant("ada", "sql-joins", "s2", 30, T2))
    await store.grant_xp(XpGrant("ada", "git", "s1", 50, T1))
    await store.grant_xp(XpGrant("bob", "git", "s3", 10, T1))

    total, grants = await store.learner_xp("ada")

    assert total == 80
    assert [g.challenge_id for g in grants] == ["git", "sql-joins"]
    assert await store.learner_xp("nobody") == (0, [])


async def test_leaderboard_ranks_by_xp_then_earlier_first_grant_then_id(store: Store) -> None:
    for learner_id in ["ada", "bob", "cy", "dee", "eve"]:
        await store.add_learner(Learner(learner_id, learner_id.title(), "learner", T0))
    await store.grant_xp(XpGrant("ada", "git", "s", 50, T2))
    await store.grant_xp(XpGrant("bob", "git", "s", 30, T1))
    await store.grant_xp(XpGrant("bob", "sql", "s", 20, T3))
    await store.grant_xp(XpGrant("cy", "git", "s", 50, T2))
    await store.grant_xp(XpGrant("dee", "git", "s", 90, T3))
    await store.grant_xp(XpGrant("ghost", "git", "s", 999, T0))  # not a known learner

    board = await store.leaderboard()

    assert board == [
        LeaderboardRow("dee", "Dee", 90, 1),
        LeaderboardRow("bob", "Bob", 50, 2),
        LeaderboardRow("ada", "Ada", 50, 1),
        LeaderboardRow("cy", "Cy", 50, 1),
    ]
    assert await store.leaderboard(limit=2) == board[:2]


async def test_ping_succeeds_on_a_working_store(store: Store) -> None:
    await store.ping()


# -- SQL only: schema, raw rows, connectivity -----------------------------------------------------

# The lookups the deployment guide promises an index for ("Indexes (automatically created)"),
# as (table, leading columns): since migration 0018 the unique (session, version) index serves
# the first two, the primary key the third (docs/deploy.md, "Database setup").
PROMISED_LOOKUPS = {
    ("game_events", ("session_id",)),
    ("game_events", ("session_id", "sequence_number")),
    ("session_snapshots", ("session_id",)),
    ("session_index", ("learner_id",)),
}


def schema_facts(
    connection: Connection,
) -> tuple[set[str], dict[str, list[tuple[str, ...]]], list[object]]:
    """The tables, every index's columns by table (primary keys and unique constraints too),
    and how the migrated schema differs from core/store/tables.py."""
    inspector = inspect(connection)
    indexed: dict[str, list[tuple[str, ...]]] = {}
    for table in {table for table, _ in PROMISED_LOOKUPS}:
        columns = [tuple(index["column_names"]) for index in inspector.get_indexes(table)]
        columns += [tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)]
        columns.append(tuple(inspector.get_pk_constraint(table)["constrained_columns"]))
        indexed[table] = [tuple(str(c) for c in names) for names in columns]
    diff = compare_metadata(MigrationContext.configure(connection), metadata)
    return set(inspector.get_table_names()), indexed, diff


async def test_migrate_creates_the_promised_tables_and_indexes_and_can_run_twice(
    database_url: str,
) -> None:
    await migrate(database_url)
    await migrate(database_url)

    engine = create_store_engine(database_url, pooled=False)
    try:
        async with engine.connect() as connection:
            tables, indexed, diff = await connection.run_sync(schema_facts)
            revisions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            versions = revisions.scalars().all()
    finally:
        await engine.dispose()
    assert set(metadata.tables) | {"alembic_version"} == tables
    for table, lookup in PROMISED_LOOKUPS:
        assert any(names[: len(lookup)] == lookup for names in indexed[table]), (table, lookup)
    assert diff == [], "migrations and core/store/tables.py disagree"
    assert versions == [current_head()]


REPO_ROOT = Path(__file__).resolve().parents[3]
MIGRATE_IN_A_WORKER = (
    "import asyncio, sys; from core.store import migrate; asyncio.run(migrate(sys.argv[1]))"
)


async def test_workers_migrating_together_do_not_race(database_url: str) -> None:
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_IN_A_WORKER,
            database_url,
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    errors = [(await worker.communicate())[1].decode() for worker in workers]
    await asyncio.gather(*(migrate(database_url) for _ in range(3)))  # and within one process

    assert [worker.returncode for worker in workers] == [0] * 4, errors
    store = SqlStore(database_url)
    try:
        assert await store.append("s1", [answered(1)], 0, recorded_at=T0) == AppendResult(1, 1)
    finally:
        await store.close()


async def test_event_data_is_stored_as_canonical_json_text(database_url: str) -> None:
    await migrate(database_url)
    store = SqlStore(database_url)
    try:
        await store.append(
            "s1", [NewEvent("A", {"b": [1, {"d": 2, "c": 3}], "a": "é"})], 0, recorded_at=T0
        )
    finally:
        await store.close()

    engine = create_store_engine(database_url, pooled=False)
    try:
        async with engine.connect() as connection:
            raw = (await connection.execute(select(game_events.c.data))).scalar_one()
    finally:
        await engine.dispose()
    assert raw == '{"a":"é","b":[1,{"c":3,"d":2}]}'


async def test_open_store_migrates_sqlite_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"

    store = await open_store(url)
    try:
        assert isinstance(store, SqlStore)
        assert await store.append("s1", [answered(1)], 0, recorded_at=T0) == AppendResult(1, 1)
    finally:
        await store.close()
    reopened = await open_store(url)
    try:
        assert await reopened.stream_version("s1") == 1
    finally:
        await reopened.close()


async def test_open_store_gives_memory_store_for_memory_url() -> None:
    store = await open_store("memory://")

    assert isinstance(store, InMemoryStore)


@pytest.mark.postgres
async def test_open_store_leaves_postgres_unmigrated_unless_asked(postgres_url: str) -> None:
    plain = await open_store(postgres_url)
    await plain.close()
    engine = create_store_engine(postgres_url, pooled=False)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    assert tables == []

    migrated = await open_store(postgres_url, auto_migrate=True)
    try:
        await migrated.append("s1", [answered(1)], 0, recorded_at=T0)
    finally:
        await migrated.close()


@pytest.mark.postgres
async def test_racing_writers_without_the_append_lock_still_get_clean_results(
    postgres_url: str,
) -> None:
    # Without the advisory lock, losers reach the unique constraints; they must still see
    # ConcurrencyError or the duplicate result, never an IntegrityError.
    await migrate(postgres_url)
    store = SqlStore(postgres_url, serialize_appends=False)
    try:
        results = await asyncio.gather(
            *(store.append("s1", [answered(i)], 0, recorded_at=T0) for i in range(50)),
            return_exceptions=True,
        )
        retries = await asyncio.gather(
            *(
                store.append("s2", [answered(1)], 0, idempotency_key="k", recorded_at=T0)
                for _ in range(20)
            ),
            return_exceptions=True,
        )
        events = await store.read_stream("s1")
    finally:
        await store.close()

    winners = [i for i, r in enumerate(results) if isinstance(r, AppendResult)]
    assert len(winners) == 1, results
    assert sum(isinstance(r, ConcurrencyError) for r in results) == 49, results
    assert [e.data["n"] for e in events] == winners
    assert all(isinstance(r, AppendResult) for r in retries), retries
    assert (
        sorted(r.duplicate for r in retries if isinstance(r, AppendResult)) == [False] + [True] * 19
    )


UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres:sekret@127.0.0.1:1/x"


async def test_unreachable_database_raises_store_unavailable_without_the_password() -> None:
    store = SqlStore(UNREACHABLE_POSTGRES, connect_timeout=5)
    try:
        with pytest.raises(StoreUnavailable) as on_ping:
            await store.ping()
        with pytest.raises(StoreUnavailable) as on_append:
            await store.append("s1", [answered(1)], 0, recorded_at=T0)
        with pytest.raises(StoreUnavailable) as on_read:
            await store.read_stream("s1")
    finally:
        await store.close()
    with pytest.raises(StoreUnavailable) as on_migrate:
        await migrate(UNREACHABLE_POSTGRES)

    for raised in (on_ping, on_append, on_read, on_migrate):
        message = str(raised.value)
        assert "sekret" not in message
        assert "127.0.0.1:1" in message


async def test_unopenable_sqlite_file_raises_store_unavailable(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'store.db'}"
    threads_before = set(threading.enumerate())

    with pytest.raises(StoreUnavailable):
        await open_store(url)

    # After a failed connect aiosqlite stops its worker thread without waiting for it; let the
    # thread finish while this test's event loop is still open, or it reports "loop is closed".
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(timeout=10)


@pytest.mark.postgres
async def test_an_unmigrated_postgres_database_says_to_run_migrate(postgres_url):
    from core.store import SchemaNotMigrated, SqlStore

    store = SqlStore(postgres_url)
    try:
        with pytest.raises(SchemaNotMigrated, match="curiouscore db migrate"):
            await store.read_stream("s1")
    finally:
        await store.close()


async def test_an_unmigrated_sqlite_file_says_to_run_migrate(tmp_path):
    from core.store import SchemaNotMigrated, SqlStore

    store = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(SchemaNotMigrated, match="curiouscore db migrate"):
            await store.load_snapshot("s1")
    finally:
        await store.close()


async def test_ping_on_an_unmigrated_database_says_to_run_migrate(tmp_path):
    from core.store import SchemaNotMigrated, SqlStore

    store = SqlStore(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        with pytest.raises(SchemaNotMigrated):
            await store.ping()
    finally:
        await store.close()


# -- 0009: read models in the append's transaction, XP claims, request digests ------------------


async def test_an_append_writes_its_read_models_in_the_same_transaction(store: Store) -> None:
    summary = SessionSummary("s1", "ada", "quiz", 1, "completed", 3, 3, 9.0, 10.0, True, T0, T1)
    changes = ReadModelChanges(
        summary=summary,
        snapshot=Snapshot("s1", 2, 1, {"n": 2}),
        xp_grant=XpGrant("ada", "quiz", "s1", 90, T1),
    )

    await store.append("s1", [answered(1), answered(2)], 0, recorded_at=T0, changes=changes)

    assert await store.get_session_summary("s1") == summary
    assert await store.load_snapshot("s1") == Snapshot("s1", 2, 1, {"n": 2})
    assert await store.learner_xp("ada") == (90, [XpGrant("ada", "quiz", "s1", 90, T1)])
    assert await store.all_xp_grants() == [XpGrant("ada", "quiz", "s1", 90, T1)]
    assert await store.all_session_summaries() == [summary]


async def test_an_xp_grant_already_held_refuses_the_whole_append(store: Store) -> None:
    await store.append(
        "s1",
        [answered(1)],
        0,
        recorded_at=T0,
        changes=ReadModelChanges(xp_grant=XpGrant("ada", "quiz", "s1", 90, T0)),
    )
    summary = SessionSummary("s2", "ada", "quiz", 1, "completed", 3, 3, 9.0, 10.0, True, T0, T1)

    with pytest.raises(XpAlreadyGranted):
        await store.append(
            "s2",
            [answered(1)],
            0,
            recorded_at=T1,
            changes=ReadModelChanges(
                summary=summary, xp_grant=XpGrant("ada", "quiz", "s2", 80, T1)
            ),
        )

    assert await store.read_stream("s2") == []
    assert await store.get_session_summary("s2") is None
    assert await store.learner_xp("ada") == (90, [XpGrant("ada", "quiz", "s1", 90, T0)])
    # Nothing half-written: the stream can still begin at version 1.
    assert await store.append("s2", [answered(1)], 0, recorded_at=T1) == AppendResult(1, 1)


async def test_a_key_comes_back_with_its_digest_and_refuses_another_request(store: Store) -> None:
    first = await store.append(
        "s1", [answered(1)], 0, idempotency_key="k", request_digest="a" * 64, recorded_at=T0
    )
    again = await store.append(
        "s1", [answered(1)], 0, idempotency_key="k", request_digest="a" * 64, recorded_at=T1
    )

    assert again == AppendResult(1, 1, duplicate=True, request_digest="a" * 64)
    assert await store.find_idempotent("s1", "k") == AppendResult(1, 1, request_digest="a" * 64)
    with pytest.raises(IdempotencyKeyReused):
        await store.append(
            "s1", [answered(2)], 1, idempotency_key="k", request_digest="b" * 64, recorded_at=T1
        )
    assert first.first_version == 1
    assert [e.data for e in await store.read_stream("s1")] == [{"n": 1}]


async def test_every_append_moves_the_stream_head_and_registers_new_streams(store: Store) -> None:
    await store.append("s1", [answered(1), answered(2)], 0, recorded_at=T0)
    await store.append("s1", [answered(3)], 2, recorded_at=T0)
    await store.append("s2", [answered(1)], 0, recorded_at=T0)

    heads = await store.stream_heads()
    events = await store.read_stream("s1")

    assert set(heads) == {"s1", "s2"}
    assert heads["s1"].version == 3 and heads["s1"].event_hash == events[-1].event_hash
    assert heads["s1"].registered_seq >= 1
    tails = await store.registry_heads()
    assert sum(tail.seq for tail in tails.values()) == 2
