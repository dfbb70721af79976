"""Migration 0019: ``curiouscore_append_v2`` beside the old function, the same rows from both, both
usable at once (a rolling deploy), and the upgrade, downgrade and upgrade again on both dialects.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.service.verify import check_chain, check_head
from core.store import sql_base
from core.store.base import (
    AccessClaim,
    AccessRevoked,
    AppendResult,
    ConcurrencyError,
    IdempotencyKeyReused,
    Learner,
    NewEvent,
    ReadModelChanges,
    XpAlreadyGranted,
    XpGrant,
)
from core.store.engine import create_store_engine
from core.store.integrity import ChainKeys
from core.store.migrate import migrate
from core.store.registry_buckets import RegistryBuckets
from core.store.sql import SqlStore
from core.store.sql_append import APPEND_ARGUMENTS, EVENT_SEPARATOR, EncodedAppend
from core.store.sql_group import AppendRequest
from tests.core.store.conftest import reset_postgres
from tests.core.store.old_append import OLD_ARGUMENTS, OldAppendStore
from tests.core.store.test_leaner_append import (
    ADA,
    T0,
    _append_a_session,
    _move,
    _table_rows,
    _url,
)

MIGRATION = importlib.import_module("core.store.migrations.versions.0019_append_v2")
PREVIOUS = importlib.import_module("core.store.migrations.versions.0018_leaner_append")


async def _functions(url: str) -> dict[str, tuple[int, str]]:
    """Each append function's argument count and body, and whether the result type exists."""
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT proname, pronargs, prosrc FROM pg_proc"
                    " WHERE proname LIKE 'curiouscore_append%'"
                    " UNION ALL SELECT typname, 0, '' FROM pg_type"
                    " WHERE typname = 'curiouscore_append_result'"
                )
            )
            return {row[0]: (row[1], row[2]) for row in result}
    finally:
        await engine.dispose()


async def _revision(url: str) -> str:
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            return str(
                (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one()
            )
    finally:
        await engine.dispose()


def _body(function: str) -> str:
    return function.split("$fn$")[1]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_0019_upgrades_downgrades_and_upgrades_again(backend: str, tmp_path: Path) -> None:
    url = await _url(backend, tmp_path)
    await migrate(url)
    assert await _revision(url) == "0019"
    new = {
        "curiouscore_append": (OLD_ARGUMENTS, _body(PREVIOUS.APPEND_FUNCTION)),
        "curiouscore_append_v2": (APPEND_ARGUMENTS, _body(MIGRATION.APPEND_FUNCTION)),
        "curiouscore_append_result": (0, ""),
    }
    if backend == "postgres":
        assert await _functions(url) == new
    await _move(url, "downgrade", "0018")
    assert await _revision(url) == "0018"
    if backend == "postgres":  # the old function stays as 0018 made it
        assert await _functions(url) == {"curiouscore_append": new["curiouscore_append"]}
    await _move(url, "upgrade", "head")
    assert await _revision(url) == "0019"
    if backend == "postgres":
        assert await _functions(url) == new
    store = await _append_a_session(url)
    try:
        assert [e.version for e in await store.read_stream("s")] == [1, 2, 3]
        assert [s.score for s in await store.list_sessions("ada")] == [7.25]
    finally:
        await store.close()


async def _outcome(call: Any) -> object:
    """What an append returned, or the kind of error it raised."""
    try:
        result: AppendResult = await call
    except (AccessRevoked, ConcurrencyError, IdempotencyKeyReused, XpAlreadyGranted) as error:
        return type(error).__name__
    return (result.first_version, result.last_version, result.duplicate)


async def _every_outcome(store: SqlStore) -> list[object]:
    """After ``_append_a_session``: a revoked claim, two replays, a conflict, an XP
    grant, the same grant claimed again by another session, and a new stream."""
    grant = XpGrant("ada", "git", "s", 50, T0)
    calls = [
        store.append("s", [NewEvent("Noted", {"n": 4})], 3, recorded_at=T0,
                     access=AccessClaim("ada", "learner", 1)),
        store.append("s", [NewEvent("Noted", {"n": 2}), NewEvent("Noted", {"n": 3})], 1,
                     idempotency_key="k", recorded_at=T0, access=ADA),
        store.append("s", [NewEvent("Noted", {"n": 2})], 1, idempotency_key="k",
                     request_digest="other", recorded_at=T0, access=ADA),
        store.append("s", [NewEvent("Noted", {"n": 4})], 2, recorded_at=T0, access=ADA),
        store.append("s", [NewEvent("Finished", {"xp": 50})], 3, recorded_at=T0, access=ADA,
                     changes=ReadModelChanges(xp_grant=grant)),
        store.append("t", [NewEvent("Finished", {"xp": 50})], 0, recorded_at=T0, access=ADA,
                     changes=ReadModelChanges(xp_grant=XpGrant("ada", "git", "t", 50, T0))),
        store.append("u", [NewEvent("Started", {"é": "\u2028"}, 2)], 0, recorded_at=T0),
    ]  # fmt: skip
    return [await _outcome(call) for call in calls]


@pytest.mark.postgres
async def test_the_old_and_new_functions_write_the_same_rows_and_outcomes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One session through 0018's function (called as the code before 0019 called it) and one
    through 0019's: the same outcomes, revoked and duplicate ones included, and the same rows
    (both stores choosing the same registry buckets)."""
    monkeypatch.setattr(sql_base, "RegistryBuckets", lambda: RegistryBuckets(offset=0))
    outcomes, rows = [], []
    for store_class in (OldAppendStore, SqlStore):
        url = await reset_postgres()
        await migrate(url)
        store = await _append_a_session(url, store_class)
        try:
            outcomes.append(await _every_outcome(store))
        finally:
            await store.close()
        rows.append(await _table_rows(url))
    assert (
        outcomes[0]
        == outcomes[1]
        == [
            "AccessRevoked",
            (2, 3, True),
            (2, 3, True),  # the first append with "k" recorded no digest to compare with
            "ConcurrencyError",
            (4, 4, False),
            "XpAlreadyGranted",
            (1, 1, False),
        ]
    )
    assert rows[0] == rows[1]
    assert [row[0] for row in rows[1]["stream_heads"]] == ["s", "u"]


@pytest.mark.postgres
async def test_processes_on_the_old_and_new_functions_append_to_one_stream_in_turn() -> None:
    """A rolling deploy: a process still on the old function and one on the new append to the
    same streams in turn (each refused once on the other's head, then chaining from it) and
    create streams in the same registry buckets; every chain and head checks out."""
    url = await reset_postgres()
    await migrate(url)
    old, new = OldAppendStore(url), SqlStore(url)
    try:
        await old.add_learner(Learner("ada", "Ada", "learner", T0))
        for version in range(6):
            store = (old, new)[version % 2]
            await store.append("s", [NewEvent("Noted", {"n": version})], version,
                               recorded_at=T0, access=ADA)  # fmt: skip
        for number in range(8):
            store = (old, new)[number % 2]
            await store.append(f"new-{number}", [NewEvent("Noted", {})], 0, recorded_at=T0)
        heads = await new.stream_heads()
        assert heads["s"].version == 6
        for stream_id in ["s", *(f"new-{n}" for n in range(8))]:
            stored = await new.read_stream(stream_id)
            findings, unchained = check_chain(stream_id, stored, ChainKeys())
            assert not findings and not unchained, stream_id
            assert not check_head(stream_id, stored, heads.get(stream_id), ChainKeys())
    finally:
        await old.close()
        await new.close()


def test_an_event_type_holding_the_separator_is_refused() -> None:
    """It would split into two events' worth of types (the function would fail on the NULLs)."""
    request = AppendRequest("s", [NewEvent(f"A{EVENT_SEPARATOR}B", {})], 0, None, T0, None, None)
    with pytest.raises(ValueError, match="U\\+001F"):
        EncodedAppend.of(request, T0)
    fine = AppendRequest("s", [NewEvent("A", {"x": EVENT_SEPARATOR})] * 2, 0, None, T0, None, None)
    encoded = EncodedAppend.of(fine, T0)
    assert encoded.types == f"A{EVENT_SEPARATOR}A"
    assert encoded.datas.split(EVENT_SEPARATOR) == ['{"x":"\\u001f"}'] * 2
