"""A learner's append or stream read checks the access token's claim in the same statement
(issue 17, migration 0017): a claim that is no longer current (sign-out, refresh-token reuse, role
change) gets nothing, not even the replay of an idempotency key, and nothing is written.

Every store keeps the contract; on PostgreSQL the check costs no statement of its own, and two
stores on one database stand for two processes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text

from core.store import InMemoryStore, open_store
from core.store.base import AccessClaim, AccessRevoked, Learner, NewEvent, Store
from core.store.engine import create_store_engine
from core.store.migrate import alembic_config, migrate
from core.store.sql import SqlStore
from core.store.sql_raw import STATEMENTS
from tests.core.store.conftest import SQL_BACKENDS, reset_postgres, sqlite_url_in

T0 = "2026-01-01T00:00:00+00:00"
ADA = AccessClaim("ada", "learner", 0)


def noted(n: int) -> NewEvent:
    return NewEvent("Noted", {"n": n})


@pytest.fixture(params=[pytest.param("memory", id="memory"), *SQL_BACKENDS])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database (two processes), the learner Ada in it; the in-memory store
    has no second process, so both are the one store there."""
    if request.param == "memory":
        memory = InMemoryStore()
        first: Store = memory
        second: Store = memory
    else:
        url = await reset_postgres() if request.param == "postgres" else sqlite_url_in(tmp_path)
        await migrate(url)
        first, second = await open_store(url), await open_store(url)
    await first.add_learner(Learner("ada", "Ada", "learner", T0))
    try:
        yield first, second
    finally:
        await first.close()
        if second is not first:
            await second.close()


async def test_a_current_claim_appends_and_reads(stores: tuple[Store, Store]) -> None:
    first, second = stores
    await first.append("s", [noted(1)], 0, recorded_at=T0, access=ADA)
    await second.append("s", [noted(2)], 1, recorded_at=T0, access=ADA)
    assert [e.version for e in await first.read_stream_for(ADA, "s")] == [1, 2]
    assert [e.version for e in await second.read_stream_for(ADA, "s", 1)] == [2]
    assert await first.read_stream_for(ADA, "s", 2) == []
    assert await first.read_stream_for(ADA, "nothing here") == []


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(AccessClaim("ada", "learner", 1), id="signed-out"),
        pytest.param(AccessClaim("ada", "admin", 0), id="another-role"),
        pytest.param(AccessClaim("nobody", "learner", 0), id="unknown-learner"),
    ],
)
async def test_a_claim_that_does_not_hold_writes_and_reads_nothing(
    stores: tuple[Store, Store], claim: AccessClaim
) -> None:
    first, second = stores
    await first.append("s", [noted(1)], 0, recorded_at=T0)
    for store in (first, second):
        with pytest.raises(AccessRevoked):
            await store.append("s", [noted(2)], 1, recorded_at=T0, access=claim)
        with pytest.raises(AccessRevoked):
            await store.append("new", [noted(1)], 0, recorded_at=T0, access=claim)
        with pytest.raises(AccessRevoked):
            await store.read_stream_for(claim, "s")
    assert await first.stream_version("s") == 1
    assert await first.stream_version("new") == 0
    assert set(await first.stream_heads()) == {"s"}


async def test_a_sign_out_in_one_process_ends_the_claim_in_the_other_at_once(
    stores: tuple[Store, Store],
) -> None:
    first, second = stores
    await second.append("s", [noted(1)], 0, recorded_at=T0, access=ADA)
    await first.bump_token_version("ada")
    with pytest.raises(AccessRevoked):
        await second.append("s", [noted(2)], 1, recorded_at=T0, access=ADA)
    with pytest.raises(AccessRevoked):
        await second.read_stream_for(ADA, "s")
    assert await second.read_stream_for(AccessClaim("ada", "learner", 1), "s") != []


async def test_a_replay_with_a_revoked_claim_is_refused_not_reported(
    stores: tuple[Store, Store],
) -> None:
    """The idempotency key is looked up only after the claim is checked: the process that wrote
    it (its head cached) and another (which reads the tip first) refuse alike."""
    first, second = stores
    await first.append("s", [noted(1)], 0, idempotency_key="k", recorded_at=T0, access=ADA)
    await first.append("s", [noted(2)], 1, recorded_at=T0, access=ADA)
    again = await second.append("s", [noted(1)], 0, idempotency_key="k", recorded_at=T0, access=ADA)
    assert again.duplicate and (again.first_version, again.last_version) == (1, 1)
    await first.bump_token_version("ada")
    for store in (first, second):
        for expected in (0, 2):
            with pytest.raises(AccessRevoked):
                await store.append(
                    "s", [noted(1)], expected, idempotency_key="k", recorded_at=T0, access=ADA
                )
    assert await first.stream_version("s") == 2


async def test_appends_that_are_not_a_learners_are_not_checked(
    stores: tuple[Store, Store],
) -> None:
    """Grading, hints and narration are the system's; a sign-out does not stop them."""
    first, _ = stores
    await first.bump_token_version("ada")
    await first.append("s", [noted(1)], 0, recorded_at=T0)
    assert [e.version for e in await first.read_stream("s")] == [1]


# -- PostgreSQL: the check costs no statement ------------------------------------------------------


@pytest.mark.postgres
async def test_a_checked_append_and_a_checked_read_are_one_statement_each() -> None:
    url = await reset_postgres()
    await migrate(url)
    store = SqlStore(url)
    try:
        await store.add_learner(Learner("ada", "Ada", "learner", T0))
        await store.append("s", [noted(1)], 0, recorded_at=T0, access=ADA)
        before = Counter(STATEMENTS)
        await store.append("s", [noted(2)], 1, idempotency_key="k", recorded_at=T0, access=ADA)
        assert [e.version for e in await store.read_stream_for(ADA, "s", 1)] == [2]
        assert Counter(STATEMENTS) - before == Counter(append=1, read_stream=1)
        # A replay behind the head reads the tip first (as before), and the function, not the
        # tip, reports the duplicate once it has checked the claim.
        before = Counter(STATEMENTS)
        replay = await store.append(
            "s", [noted(2)], 1, idempotency_key="k", recorded_at=T0, access=ADA
        )
        assert replay.duplicate
        assert Counter(STATEMENTS) - before == Counter(tip=1, append=1)
    finally:
        await store.close()


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def _functions(url: str) -> list[int]:
    """The argument counts of every ``curiouscore_append`` in the database."""
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text("SELECT pronargs FROM pg_proc WHERE proname = 'curiouscore_append'")
            )
            return sorted(row[0] for row in result)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_the_migration_replaces_the_function_and_downgrades_to_0016() -> None:
    url = await reset_postgres()
    await migrate(url)
    assert await _functions(url) == [33]  # no 0016 overload left beside it
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run, "downgrade", "0016")
    finally:
        await engine.dispose()
    assert await _functions(url) == [30]
    await migrate(url)
    assert await _functions(url) == [33]
    store = SqlStore(url)
    try:
        await store.add_learner(Learner("ada", "Ada", "learner", T0))
        await store.append("s", [noted(1)], 0, recorded_at=T0, access=ADA)
        assert await store.stream_version("s") == 1
    finally:
        await store.close()
