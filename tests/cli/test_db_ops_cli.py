"""``db archive``, ``db restore``, ``db verify`` on the hash chain, and ``analytics export``."""

from __future__ import annotations

import csv
import sqlite3

from typer.testing import CliRunner

from cli.main import app
from tests.cli.test_cli import all_correct_input, db  # noqa: F401 (the fixture)


def _play(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["play", "python-functions"], input=all_correct_input("python-functions")
    )
    assert result.exit_code == 0, result.output


def test_verify_names_the_session_and_version_of_an_edited_event(db):  # noqa: F811
    runner = CliRunner()
    _play(runner)
    with sqlite3.connect(db) as connection:
        (session_id,) = connection.execute("SELECT DISTINCT session_id FROM game_events").fetchone()
        data = connection.execute(
            "SELECT data FROM game_events WHERE session_id = ? AND sequence_number = 4",
            (session_id,),
        ).fetchone()[0]
        connection.execute(
            "UPDATE game_events SET data = ? WHERE session_id = ? AND sequence_number = 4",
            (data.replace("{", '{"edited":1,', 1), session_id),
        )
    result = runner.invoke(app, ["db", "verify"])
    assert result.exit_code == 1
    assert f"{session_id}: hash chain broken at version 4" in result.output


def test_archive_then_restore_into_an_empty_database_then_verify(db, tmp_path):  # noqa: F811
    runner = CliRunner()
    _play(runner)
    archive = tmp_path / "cold"
    done = runner.invoke(app, ["db", "archive", "--older-than", "0m", "--to", str(archive)])
    assert done.exit_code == 0, done.output
    assert "Archived 1 sessions" in done.output
    assert (archive / "manifest.json").exists()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM archived_sessions").fetchone() == (1,)
        events = connection.execute("SELECT count(*) FROM game_events").fetchone()[0]
    assert events > 0  # never deleted

    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    restored = runner.invoke(app, ["db", "restore", str(archive), "--database-url", empty])
    assert restored.exit_code == 0, restored.output
    assert f"{events} of {events} events" in restored.output
    again = runner.invoke(app, ["db", "restore", str(archive), "--database-url", empty])
    assert f"0 of {events} events" in again.output
    verified = runner.invoke(app, ["db", "verify", "--database-url", empty])
    assert verified.exit_code == 0, verified.output
    assert f"1 sessions, {events} events, 0 problems" in verified.output


def test_a_bad_age_is_refused(db):  # noqa: F811
    result = CliRunner().invoke(app, ["db", "archive", "--older-than", "soon", "--to", "x"])
    assert result.exit_code == 2


def test_analytics_export_writes_csv(db, tmp_path):  # noqa: F811
    runner = CliRunner()
    _play(runner)
    out = tmp_path / "analytics.csv"
    result = runner.invoke(app, ["analytics", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["section", "subject", "metric", "value"]
    values = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert values[("summary", "", "completions")] == "1"
    assert values[("challenge", "python-functions", "passed")] == "1"
    assert any(key[0] == "day" and key[2] == "active_learners" for key in values)
    # A CLI process served no HTTP request: its request figures are empty, not zero.
    assert values[("system", "requests", "requests")] == "0"
    assert values[("system", "requests", "latency_p95_ms")] == ""
    assert values[("system", "requests", "error_rate")] == ""
    assert ("system", "llm", "success_rate") in values
    assert ("system", "llm", "latency_p99_ms") in values
    stdout = runner.invoke(app, ["analytics", "export"])
    assert stdout.output.startswith("section,subject,metric,value\n")
