"""``curiouscore db verify`` against what someone with write access to the database tries: each
tampering makes it exit non-zero naming what and where."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.store.integrity import chain_hash, head_mac
from tests.cli.test_cli import all_correct_input

KEY = "test-event-key-0123456789abcdef"
OLD_KEY = "old-event-key-0123456789abcdef"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("EVENT_HMAC_KEY", KEY)
    monkeypatch.delenv("EVENT_HMAC_KEYS", raising=False)
    monkeypatch.chdir(tmp_path)
    return path


def play(learner: str) -> None:
    result = CliRunner().invoke(
        app,
        ["play", "python-functions", "--learner", learner],
        input=all_correct_input("python-functions"),
    )
    assert result.exit_code == 0, result.output


def verify() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["db", "verify"])
    return result.exit_code, result.output


@pytest.fixture
def played(db: Path) -> tuple[Path, str, str]:
    play("ada")
    play("bob")
    code, output = verify()
    assert code == 0, output
    assert "0 problems" in output and "without a key" not in output
    with sqlite3.connect(db) as connection:
        ada, bob = (
            connection.execute(
                "SELECT session_id FROM session_index WHERE learner_id = ?", (f"terminal:{who}",)
            ).fetchone()[0]
            for who in ("ada", "bob")
        )
    return db, ada, bob


def sql(db: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(statement, params)


def test_nulling_every_hash_of_a_session_and_then_editing_it_is_caught(played):
    db, ada, _ = played
    sql(db, "UPDATE game_events SET event_hash = NULL, key_id = NULL WHERE session_id = ?", ada)
    sql(
        db,
        "UPDATE game_events SET data = json_set(data, '$.score', 0) "
        "WHERE session_id = ? AND event_type = 'SessionCompleted'",
        ada,
    )
    code, output = verify()
    assert code == 1
    assert f"{ada}: the last event" in output and "not the one the head recorded" in output
    assert "registered under a key but has unkeyed digests" in output


def test_deleting_a_sessions_last_event_is_caught(played):
    db, ada, _ = played
    sql(
        db,
        "DELETE FROM game_events WHERE session_id = ? AND sequence_number = "
        "(SELECT MAX(sequence_number) FROM game_events WHERE session_id = ?)",
        ada,
        ada,
    )
    code, output = verify()
    assert code == 1
    assert f"{ada}: truncated: the head records version" in output


def test_deleting_a_whole_session_is_caught(played):
    db, ada, _ = played
    sql(db, "DELETE FROM game_events WHERE session_id = ?", ada)
    code, output = verify()
    assert code == 1
    assert f"{ada}: the whole session was deleted" in output


def test_deleting_a_session_with_its_head_and_read_models_is_caught(played):
    db, ada, bob = played
    for table in (
        "game_events",
        "stream_heads",
        "session_index",
        "session_snapshots",
        "review_queue",  # a sampled chat grade of the session, when there is one
        "xp_adjustments",
    ):
        sql(db, f"DELETE FROM {table} WHERE session_id = ?", ada)
    sql(db, "DELETE FROM xp_grants WHERE learner_id = 'ada'")
    code, output = verify()
    assert code == 1
    assert "registry bucket" in output
    assert "a session was deleted" in output or "the last registered session was deleted" in output
    assert ada not in output.replace(bob, "")  # named by where it was registered, not guessed


def test_recomputing_the_chain_after_an_edit_without_the_key_is_caught(played):
    db, ada, _ = played
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT sequence_number, event_type, schema_version, data FROM game_events "
            "WHERE session_id = ? ORDER BY sequence_number",
            (ada,),
        ).fetchall()
        previous = None
        for version, event_type, schema_version, data in rows:
            payload = json.loads(data)
            if event_type == "SessionCompleted":
                payload["score"] = 0
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
            previous = chain_hash(ada, version, event_type, schema_version, payload, previous)
            connection.execute(
                "UPDATE game_events SET data = ?, event_hash = ?, key_id = NULL "
                "WHERE session_id = ? AND sequence_number = ?",
                (text, previous, ada, version),
            )
        registration = connection.execute(
            "SELECT registration_mac FROM stream_heads WHERE session_id = ?", (ada,)
        ).fetchone()[0]
        connection.execute(
            "UPDATE stream_heads SET event_hash = ?, key_id = NULL, head_mac = ? "
            "WHERE session_id = ?",
            (previous, head_mac(None, ada, len(rows), previous, registration), ada),
        )
    code, output = verify()
    assert code == 1
    assert f"{ada}: the session was registered under a key but has unkeyed digests" in output


def test_editing_the_xp_ledger_or_the_session_index_is_caught(played):
    db, ada, _ = played
    sql(db, "UPDATE xp_grants SET xp = 9999 WHERE learner_id = 'terminal:bob'")
    sql(db, "UPDATE session_index SET score = 999 WHERE session_id = ?", ada)
    code, output = verify()
    assert code == 1
    assert "xp_grants terminal:bob/python-functions: differs from the events in xp" in output
    assert f"{ada}: session_index differs from replay in score" in output


def test_a_missing_key_is_a_problem_and_a_rotated_key_still_verifies(played, monkeypatch):
    monkeypatch.delenv("EVENT_HMAC_KEY")
    code, output = verify()
    assert code == 1 and "not in EVENT_HMAC_KEY or EVENT_HMAC_KEYS" in output

    # Rotation: a new signing key, the old one kept for verification.
    monkeypatch.setenv("EVENT_HMAC_KEY", "new-event-key-0123456789abcdef")
    monkeypatch.setenv("EVENT_HMAC_KEYS", KEY)
    play("cy")
    code, output = verify()
    assert code == 0, output
    assert "0 problems" in output


def test_deleting_a_whole_registry_bucket_is_caught(played):
    db, ada, _ = played
    with sqlite3.connect(db) as connection:
        (bucket,) = connection.execute(
            "SELECT bucket FROM stream_heads WHERE session_id = ?", (ada,)
        ).fetchone()
        gone = [
            row[0]
            for row in connection.execute(
                "SELECT session_id FROM stream_heads WHERE bucket = ?", (bucket,)
            )
        ]
    for session in gone:  # every session of the bucket, with its head and read models
        for table in (
            "game_events",
            "stream_heads",
            "session_index",
            "session_snapshots",
            "review_queue",
            "xp_adjustments",
        ):
            sql(db, f"DELETE FROM {table} WHERE session_id = ?", session)
    for session in gone:
        sql(db, "DELETE FROM xp_grants WHERE session_id = ?", session)
    sql(db, "DELETE FROM stream_registry WHERE bucket = ?", bucket)
    code, output = verify()
    assert code == 1
    assert (
        f"registry bucket {bucket}: its tail is missing though the registry directory lists 64"
        in (output)
    )
