"""The per-session hash chain: computed by every store's append, checked by ``db verify``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from core.service.verify import check_chain, verify_store
from core.store.base import NewEvent, Store
from core.store.engine import create_store_engine
from core.store.integrity import ChainKeys, chain_hash
from core.store.migrate import migrate
from core.store.sql import SqlStore
from tests.core.store.conftest import SQL_BACKENDS, reset_postgres, sqlite_url_in

AT = "2026-01-01T00:00:00.000+00:00"


async def _two_appends(store: Store, stream: str = "s-1") -> None:
    await store.append(
        stream, [NewEvent("Noted", {"n": 1}), NewEvent("Noted", {"n": 2})], 0, recorded_at=AT
    )
    await store.append(stream, [NewEvent("Noted", {"n": 3, "text": "é"})], 2, recorded_at=AT)


async def test_every_store_chains_each_event_to_the_one_before(store: Store) -> None:
    await _two_appends(store)
    events = await store.read_stream("s-1")
    previous = None
    for event in events:
        expected = chain_hash(
            "s-1", event.version, event.type, event.schema_version, event.data, previous
        )
        assert event.event_hash == expected
        previous = expected
    assert check_chain("s-1", events) == ([], 0)
    assert (await store.read_all())[-1].event_hash == events[-1].event_hash


@pytest.fixture(params=SQL_BACKENDS)
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = await reset_postgres() if request.param == "postgres" else sqlite_url_in(tmp_path)
    await migrate(url)
    return url


async def _execute(url: str, sql: str, **params: object) -> None:
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql), params)
    finally:
        await engine.dispose()


async def test_verify_names_the_session_and_version_of_an_event_edited_in_the_database(
    sql_url: str,
) -> None:
    store = SqlStore(sql_url)
    try:
        await _two_appends(store, "s-1")
        await _two_appends(store, "s-2")
        assert not [f for f in (await verify_store(store)).findings if "hash" in f.problem]
        await _execute(
            sql_url,
            "UPDATE game_events SET data = :data WHERE session_id = 's-2' AND sequence_number = 2",
            data='{"n":20}',
        )
        findings = [f for f in (await verify_store(store)).findings if "hash" in f.problem]
    finally:
        await store.close()
    assert len(findings) == 1
    assert findings[0].session_id == "s-2"
    assert "version 2" in findings[0].problem


async def test_a_removed_event_breaks_the_chain(sql_url: str) -> None:
    store = SqlStore(sql_url)
    try:
        await _two_appends(store)
        await _execute(sql_url, "DELETE FROM game_events WHERE sequence_number = 2")
        report = await verify_store(store)
    finally:
        await store.close()
    assert any("hash chain broken at version 3" in f.problem for f in report.findings)


async def test_events_from_before_the_chain_are_counted_not_failed(sql_url: str) -> None:
    store = SqlStore(sql_url)
    try:
        await store.append("old", [NewEvent("Noted", {"n": 1})], 0, recorded_at=AT)
        # History from before the chain: no hashes, and the head migration 0009 gave the stream
        # carries the last event's (missing) hash.
        await _execute(sql_url, "UPDATE game_events SET event_hash = NULL")
        await _execute(sql_url, "UPDATE stream_heads SET event_hash = NULL")
        await store.append("old", [NewEvent("Noted", {"n": 2})], 1, recorded_at=AT)
        events = await store.read_stream("old")
        # A missing hash after the chain began is tampering, not history.
        await _execute(
            sql_url, "UPDATE game_events SET event_hash = NULL WHERE sequence_number = 2"
        )
        await store.append("old", [NewEvent("Noted", {"n": 3})], 2, recorded_at=AT)
        tampered = await store.read_stream("old")
    finally:
        await store.close()
    assert check_chain("old", events) == ([], 1)
    assert events[1].event_hash == chain_hash("old", 2, "Noted", 1, {"n": 2}, None)
    # v3 chains from the hash the stream's head kept for v2, so erasing v2's hash shows.
    assert check_chain("old", tampered)[0] != []
    assert check_chain("old", [tampered[0], events[1], tampered[2]]) == ([], 1)


KEYS = ChainKeys.from_secrets("integrity-test-key-0123456789")


async def test_a_truncated_or_deleted_stream_shows_on_every_sql_store(sql_url: str) -> None:
    store = SqlStore(sql_url, chain_keys=KEYS)
    try:
        for stream in ("s-1", "s-2", "s-3"):
            await _two_appends(store, stream)
        assert [
            f for f in (await verify_store(store, keys=KEYS)).findings if "head" in f.problem
        ] == []
        await _execute(
            sql_url, "DELETE FROM game_events WHERE session_id = 's-1' AND sequence_number = 3"
        )
        await _execute(sql_url, "DELETE FROM game_events WHERE session_id = 's-2'")
        await _execute(sql_url, "UPDATE game_events SET key_id = NULL WHERE session_id = 's-3'")
        report = await verify_store(store, keys=KEYS)
        unkeyed = await verify_store(store)  # no key at hand: keyed events cannot be verified
    finally:
        await store.close()
    problems = {(f.session_id, f.problem.split(":")[0]) for f in report.findings}
    assert ("s-1", "truncated") in problems
    assert ("s-2", "the whole session was deleted") in problems
    assert any(f.session_id == "s-3" and "hash chain broken" in f.problem for f in report.findings)
    assert any("not in EVENT_HMAC_KEY" in f.problem for f in unkeyed.findings)


def test_keyed_digests_depend_on_the_key() -> None:
    other = ChainKeys.from_secrets("another-test-key-0123456789")
    assert KEYS.current is not None and other.current is not None
    args = ("s", 1, "Noted", 1, {"n": 1}, None)
    assert chain_hash(*args, KEYS.current) != chain_hash(*args, other.current)
    assert chain_hash(*args, KEYS.current) != chain_hash(*args)
    assert KEYS.current.key_id != other.current.key_id
    with pytest.raises(ValueError, match="at least 16 bytes"):
        ChainKeys.from_secrets("short")
