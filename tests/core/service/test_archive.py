"""``db archive`` / ``db restore``: finished sessions to verified cold storage and back."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest

from core.service.actor import Actor
from core.service.archive import (
    ArchiveError,
    archive_sessions,
    parse_age,
    restore_archive,
)
from core.service.verify import verify_store
from core.store import open_store
from core.store.sql import SqlStore
from tests.core.service.conftest import _fresh_postgres, make_services
from tests.core.service.test_analytics import GOOD_ANSWER, _play

ADA = Actor("ada")
BOB = Actor("bob")
LATER = "2026-06-01T00:00:00.000+00:00"  # the sessions below are from January


def test_ages_are_days_hours_minutes_or_weeks() -> None:
    assert parse_age("90d") == timedelta(days=90)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("2w") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="90d"):
        parse_age("ninety")


async def _source(tmp_path: Path):
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'source.db'}")
    services = await make_services(store)
    completed = await _play(services, ADA, GOOD_ANSWER)
    abandoned = await services.game.create_session(BOB, "quiz")
    await services.game.abandon(BOB, abandoned.session_id)
    active = await services.game.create_session(BOB, "quiz")
    return services, {completed.session_id, abandoned.session_id}, active.session_id


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return await _fresh_postgres()
    return f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"


async def test_archive_then_restore_into_a_fresh_database_verifies(
    tmp_path: Path, target_url: str
) -> None:
    services, finished, active = await _source(tmp_path)
    store = services.store
    assert isinstance(store, SqlStore)
    archive = tmp_path / "archive"
    try:
        before = len(await store.read_all(0, 10_000))
        report = await archive_sessions(
            store, archive, older_than=timedelta(days=90), now=LATER, batch_sessions=1
        )
        again = await archive_sessions(store, archive, older_than=timedelta(days=90), now=LATER)
        assert len(await store.read_all(0, 10_000)) == before  # events are never deleted
        assert {a.session_id for a in await store.archived()} == finished
        source_streams = {sid: await store.read_stream(sid) for sid in finished}
    finally:
        await services.close()
    assert report.sessions == 2 and len(report.files) == 2
    assert report.events == sum(len(s) for s in source_streams.values())
    assert again.sessions == 0
    manifest = json.loads((archive / "manifest.json").read_text())
    assert [f["name"] for f in manifest["files"]] == list(report.files)
    assert active not in {sid for f in manifest["files"] for sid in f["sessions"]}

    restored = await open_store(target_url, auto_migrate=True)
    assert isinstance(restored, SqlStore)
    try:
        first = await restore_archive(restored, archive, now=LATER)
        second = await restore_archive(restored, archive, now=LATER)
        check = await verify_store(restored)
        streams = {sid: await restored.read_stream(sid) for sid in finished}
        listed = await restored.list_sessions("ada")
    finally:
        await restored.close()
    assert first.events_added == report.events and first.sessions == 2
    assert second.events_added == 0  # idempotent
    assert check.ok, check.findings
    assert check.sessions == 2 and check.events == report.events
    for sid, events in streams.items():
        assert [(e.version, e.data, e.event_hash) for e in events] == [
            (e.version, e.data, e.event_hash) for e in source_streams[sid]
        ]
    assert [s.status for s in listed] == ["completed"]


async def test_a_damaged_archive_is_refused_before_anything_is_restored(tmp_path: Path) -> None:
    services, _finished, _active = await _source(tmp_path)
    store = services.store
    assert isinstance(store, SqlStore)
    archive = tmp_path / "archive"
    try:
        report = await archive_sessions(
            store, archive, older_than=timedelta(days=90), now=LATER, batch_sessions=1
        )
    finally:
        await services.close()
    damaged = archive / report.files[-1]
    lines = gzip.decompress(damaged.read_bytes()).decode().splitlines()
    row = json.loads(lines[0])
    row["data"]["tampered"] = True
    lines[0] = json.dumps(row)
    damaged.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    target = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    assert isinstance(target, SqlStore)
    try:
        with pytest.raises(ArchiveError, match="checksum"):
            await restore_archive(target, archive, now=LATER)
        assert await target.read_all() == []
    finally:
        await target.close()
