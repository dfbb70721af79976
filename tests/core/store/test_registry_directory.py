"""The registry directory: a whole registry bucket deleted (or emptied) shows in ``db verify``, on
every store; databases registered before the directory existed verify as before."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.service.verify import Finding, check_registrations, verify_store
from core.store.base import NewEvent, Store
from core.store.engine import create_store_engine
from core.store.integrity import (
    ChainKey,
    ChainKeys,
    RegistryHead,
    StreamHead,
    directory_rows,
    registration_mac,
    registry_head_mac,
)
from core.store.json_codec import dump_json
from core.store.memory import InMemoryStore
from core.store.migrate import migrate
from core.store.registry_buckets import CHOSEN_BUCKETS, RegistryBuckets
from core.store.sql import SqlStore
from tests.core.store.conftest import SQL_BACKENDS, reset_postgres, sqlite_url_in

AT = "2026-01-01T00:00:00+00:00"
OLD = ChainKeys.from_secrets("registry-directory-old-key-0123")
NEW = ChainKeys.from_secrets("registry-directory-new-key-0123")
ROTATED = ChainKeys(NEW.current, (OLD.current,) if OLD.current else ())
BUCKET = 5
Registry = tuple[dict[str, StreamHead], dict[int, RegistryHead]]


async def _create(store: Store, streams: list[str]) -> None:
    for stream in streams:
        await store.append(stream, [NewEvent("Noted", {"n": 1})], 0, recorded_at=AT)


async def _registry(store: Store) -> Registry:
    return await store.stream_heads(), await store.registry_heads()


def _without_bucket(registry: Registry, bucket: int, *, directory: bool = True) -> Registry:
    """The registry once every stream of ``bucket`` is deleted with its head and its tail row
    (and the directory, unless ``directory``)."""
    heads, rows = registry
    return (
        {s: h for s, h in heads.items() if h.bucket != bucket},
        {b: t for b, t in rows.items() if b != bucket and (directory or b >= 0)},
    )


def _problems(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.session_id, f.problem) for f in findings]


def _as_previous_code(store: Store) -> None:
    """Make ``store`` register as the code before the directory did: no directory made, the
    registrations' older format."""
    if isinstance(store, InMemoryStore):
        store._registry = {}
        store._directory = None
    else:

        async def no_directory(raw: Any) -> None:
            return None

        store._ensure_directory = no_directory  # type: ignore[attr-defined]


def _as_current_code(store: Store) -> None:
    """Undo :func:`_as_previous_code`: the store makes (or finds) the directory again."""
    if isinstance(store, InMemoryStore):
        for row in directory_rows(store._chain_keys.current, CHOSEN_BUCKETS):
            store._registry.setdefault(row.bucket, row)
        store._directory = CHOSEN_BUCKETS
    else:
        assert isinstance(store, SqlStore)
        del store._ensure_directory  # type: ignore[attr-defined]
        store._directory = None
        store._tails_seeded = False


async def test_a_whole_bucket_deleted_shows_on_every_store(store: Store) -> None:
    await _create(store, [f"s-{i}" for i in range(2 * CHOSEN_BUCKETS)])
    registry = await _registry(store)
    keys = ChainKeys()
    assert check_registrations(*registry, keys) == []
    assert {h.bucket for h in registry[0].values()} == set(range(CHOSEN_BUCKETS))

    findings = check_registrations(*_without_bucket(registry, BUCKET), keys)
    assert _problems(findings) == [
        (
            f"registry bucket {BUCKET}",
            f"its tail is missing though the registry directory lists {CHOSEN_BUCKETS} "
            "buckets: the whole bucket was deleted",
        )
    ]
    # The directory deleted as well: the registrations that attest it remain.
    findings = check_registrations(*_without_bucket(registry, BUCKET, directory=False), keys)
    assert [f.session_id for f in findings] == ["registry directory"]
    assert "the registry directory is missing though 126 sessions" in findings[0].problem


async def test_a_bucket_emptied_under_a_keyed_directory_shows() -> None:
    store = InMemoryStore(chain_keys=NEW)
    await _create(store, [f"s-{i}" for i in range(CHOSEN_BUCKETS)])
    heads, rows = _without_bucket(await _registry(store), BUCKET)
    # Its tail rewritten as an empty one, which needs no key; or made again by a create.
    rows[BUCKET] = RegistryHead(BUCKET, 0, None, None, registry_head_mac(None, BUCKET, 0, None))
    findings = check_registrations(heads, rows, NEW)
    assert _problems(findings) == [
        (
            f"registry bucket {BUCKET}",
            "the registry tail is empty and unkeyed though the registry directory is keyed: the "
            "bucket was emptied (its sessions deleted, its tail rewritten)",
        )
    ]
    store._registry[BUCKET] = rows[BUCKET]
    store._heads = heads
    store._buckets = RegistryBuckets(CHOSEN_BUCKETS, offset=BUCKET)
    await _create(store, ["again"])
    findings = check_registrations(*await _registry(store), NEW)
    assert [f.session_id for f in findings] == [f"registry bucket {BUCKET}"]
    assert "registration 1 ('again') does not follow" in findings[0].problem


async def test_registrations_of_the_previous_code_verify_alone_and_mixed(store: Store) -> None:
    _as_previous_code(store)
    old = [f"old-{i}" for i in range(CHOSEN_BUCKETS + 3)]
    await _create(store, old)
    heads, rows = await _registry(store)
    assert min(rows) >= 0  # no directory
    assert check_registrations(heads, rows, ChainKeys()) == []
    gone = heads[old[0]].bucket
    # Before the directory, a whole bucket deleted does not show (the residual it closes).
    assert check_registrations(*_without_bucket((heads, rows), gone), ChainKeys()) == []

    _as_current_code(store)
    await _create(store, [f"new-{i}" for i in range(CHOSEN_BUCKETS + 3)])
    registry = await _registry(store)
    assert min(registry[1]) == -CHOSEN_BUCKETS
    assert check_registrations(*registry, ChainKeys()) == []
    findings = check_registrations(*_without_bucket(registry, gone), ChainKeys())
    assert [f.session_id for f in findings] == [f"registry bucket {gone}"]


async def test_a_directory_signed_with_a_retired_key_verifies() -> None:
    store = InMemoryStore(chain_keys=OLD)
    await _create(store, [f"old-{i}" for i in range(3)])
    store._chain_keys = ROTATED
    await _create(store, [f"new-{i}" for i in range(CHOSEN_BUCKETS)])
    registry = await _registry(store)
    retired = OLD.current
    assert retired is not None and registry[1][-CHOSEN_BUCKETS].key_id == retired.key_id
    assert check_registrations(*registry, ROTATED) == []
    unknown = f"the directory uses key id {retired.key_id}, which is unknown"
    assert ("registry directory", unknown) in _problems(check_registrations(*registry, NEW))


async def test_an_edited_directory_shows() -> None:
    store = InMemoryStore(chain_keys=NEW)
    await _create(store, ["s"])
    heads, rows = await _registry(store)
    directory = rows[-CHOSEN_BUCKETS]
    rows[-8] = RegistryHead(-8, 0, None, directory.key_id, directory.mac)  # "8 buckets"
    del rows[-CHOSEN_BUCKETS]
    findings = check_registrations(heads, rows, NEW)
    assert ("registry directory", "the registry directory was edited (its MAC is wrong)") in (
        _problems(findings)
    )


@pytest.fixture(params=SQL_BACKENDS)
async def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = await reset_postgres() if request.param == "postgres" else sqlite_url_in(tmp_path)
    await migrate(url)
    return url


async def _execute(url: str, *statements: str) -> None:
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _registry_findings(store: Store) -> list[Finding]:
    """What ``db verify`` finds in the registry (these tests' events are not the game's)."""
    findings = (await verify_store(store, keys=NEW)).findings
    return [f for f in findings if f.session_id.startswith("registry ")]


async def test_two_stores_making_the_directory_at_once_make_one(sql_url: str) -> None:
    first, second = SqlStore(sql_url, chain_keys=NEW), SqlStore(sql_url, chain_keys=NEW)
    try:
        await asyncio.gather(
            _create(first, [f"a-{i}" for i in range(8)]),
            _create(second, [f"b-{i}" for i in range(8)]),
        )
        rows = await first.registry_heads()
        assert sorted(rows) == [-CHOSEN_BUCKETS, *range(CHOSEN_BUCKETS)]
        assert first._directory == second._directory == CHOSEN_BUCKETS
        assert await _registry_findings(first) == []
    finally:
        await first.close()
        await second.close()


async def test_db_verify_reports_a_bucket_deleted_from_the_database(sql_url: str) -> None:
    store = SqlStore(sql_url, chain_keys=NEW)
    try:
        await _create(store, [f"s-{i}" for i in range(CHOSEN_BUCKETS + 1)])
        assert await _registry_findings(store) == []
        heads = await store.stream_heads()
        bucket = heads["s-0"].bucket
        gone = ", ".join(f"'{s}'" for s, h in heads.items() if h.bucket == bucket)
        await _execute(
            sql_url,
            f"DELETE FROM game_events WHERE session_id IN ({gone})",
            f"DELETE FROM stream_heads WHERE session_id IN ({gone})",
            f"DELETE FROM stream_registry WHERE bucket = {bucket}",
        )
        findings = await _registry_findings(store)
        assert [f.session_id for f in findings] == [f"registry bucket {bucket}"]
        assert "the whole bucket was deleted" in findings[0].problem
        await _execute(sql_url, "DELETE FROM stream_registry WHERE bucket < 0")
        findings = await _registry_findings(store)
        assert [f.session_id for f in findings] == ["registry directory"]
    finally:
        await store.close()


@pytest.mark.parametrize("buckets", [None, CHOSEN_BUCKETS])
@pytest.mark.parametrize("key", [None, NEW.current])
@pytest.mark.parametrize("session_id", ["s-1", 'a "quoted" é\n', "x" * 64])
def test_a_registration_mac_is_the_mac_of_its_canonical_payload(
    buckets: int | None, key: ChainKey | None, session_id: str
) -> None:
    """The payload written out (every create) is the text ``dump_json`` writes for it."""
    for previous in (None, "ab" * 32):
        payload: dict[str, Any] = {
            "bucket": 3,
            "key_id": key.key_id if key else None,
            "previous": previous,
            "seq": 7,
            "session_id": session_id,
        }
        if buckets is not None:
            payload["buckets"] = buckets
        text = dump_json(payload).encode("utf-8")
        expected = (
            hashlib.sha256(text).hexdigest()
            if key is None
            else hmac.new(key.secret, text, hashlib.sha256).hexdigest()
        )
        assert registration_mac(key, 3, 7, session_id, previous, buckets) == expected
