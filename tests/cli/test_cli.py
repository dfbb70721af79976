"""The curiouscore command, run through its real Typer app on a SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.content import load_challenge_file

SHIPPED = Path(__file__).resolve().parents[2] / "challenges"


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return path


def all_correct_input(challenge_id: str) -> str:
    """What a player who knows every answer types, one line per step."""
    lines = []
    for step in load_challenge_file(SHIPPED / f"{challenge_id}.yaml").steps:
        if step.type == "gate":
            lines.append("")
        elif step.type == "mcq":
            lines.append(str(next(i for i, c in enumerate(step.choices, 1) if c.correct)))
        elif step.type == "multi":
            lines.append(",".join(str(i) for i, c in enumerate(step.choices, 1) if c.correct))
        elif step.type == "true_false":
            lines.append("t" if step.answer else "f")
        elif step.type == "code":
            lines.extend([*step.solution.splitlines(), ""])  # an empty line ends the code
        else:
            lines.append(next(e.answer for e in step.examples if e.expect == "pass"))
    return "\n".join(lines) + "\n"


def test_play_a_whole_challenge_in_the_terminal(db):
    result = CliRunner().invoke(
        app, ["play", "python-functions"], input=all_correct_input("python-functions")
    )
    assert result.exit_code == 0, result.output
    assert "Passed!" in result.output
    assert "Professor Pip" in result.output or "Welcome to the library" in result.output
    assert "XP granted" in result.output and "level 1" in result.output
    # the next beginner challenge not yet passed, with the command that starts it
    assert "Next challenge: Python: Testing Your Own Functions" in result.output
    assert "curiouscore play python-testing" in result.output


def test_code_is_typed_over_several_lines_or_written_in_the_editor(db, tmp_path, monkeypatch):
    steps = load_challenge_file(SHIPPED / "python-testing.yaml").steps
    wrong = "def is_even(n):\n    return n % 2\n\n"
    result = CliRunner().invoke(app, ["play", "python-testing"], input="\n1\n" + wrong + "/quit\n")
    assert result.exit_code == 0, result.output
    assert "0 of 4 tests passed." in result.output and "is_even(4) should be True" in result.output
    assert "(hidden test)" in result.output

    editor = tmp_path / "fake-editor.sh"
    solution = next(s for s in steps if s.id == "is-even").solution
    editor.write_text(f"#!/bin/sh\ncat > \"$1\" <<'EOF'\n{solution}\nEOF\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    again = CliRunner().invoke(app, ["play", "python-testing"], input="/edit\n/quit\n")
    assert again.exit_code == 0, again.output
    assert "All 4 tests passed!" in again.output


def test_a_quit_session_resumes_where_it_stopped(db):
    runner = CliRunner()
    first = runner.invoke(app, ["play", "sql-joins"], input="\n/quit\n")
    assert first.exit_code == 0, first.output
    assert "pick up where you left off" in first.output
    again = runner.invoke(app, ["play", "sql-joins"], input="/quit\n")
    assert "Resuming" in again.output and "step 2" in again.output


def test_bad_input_is_explained_and_nothing_is_lost(db):
    result = CliRunner().invoke(app, ["play", "python-functions"], input="\n9\n/quit\n")
    assert "Type a number from 1 to 4" in result.output
    again = CliRunner().invoke(app, ["play", "python-functions"], input="/quit\n")
    assert "step 2" in again.output


def test_choosing_from_the_catalogue(db):
    result = CliRunner().invoke(app, ["play"], input="1\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "Challenges" in result.output and "git-commits-branches" not in result.output


def test_seed_reports_created_then_unchanged(db):
    runner = CliRunner()
    first = runner.invoke(app, ["seed", str(SHIPPED)])
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == len(list(SHIPPED.glob("*.yaml")))
    second = runner.invoke(app, ["seed", str(SHIPPED)])
    assert second.output.count("unchanged") == len(list(SHIPPED.glob("*.yaml")))


def test_seed_with_a_bad_file_exits_non_zero_naming_file_step_and_field(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: Bad\nsteps:\n  - {id: q, type: true_false, title: Q, prompt: P, points: 5, answer: 'no'}\n"
    )
    result = CliRunner().invoke(app, ["seed", str(bad)])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "step 'q'" in result.output and "answer" in result.output


def test_db_verify_passes_on_a_clean_log_and_names_tampering(db):
    runner = CliRunner()
    runner.invoke(app, ["play", "python-functions"], input=all_correct_input("python-functions"))
    clean = runner.invoke(app, ["db", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "0 problems" in clean.output

    with sqlite3.connect(db) as connection:
        session_id, version = connection.execute(
            "SELECT session_id, MAX(sequence_number) FROM game_events GROUP BY session_id"
        ).fetchone()
        connection.execute(
            "UPDATE game_events SET data = '{\"oops\": 1}' WHERE session_id = ? AND sequence_number = 3",
            (session_id,),
        )
        connection.execute(
            "DELETE FROM game_events WHERE session_id = ? AND sequence_number = ?",
            (session_id, version - 1),
        )
    broken = runner.invoke(app, ["db", "verify"])
    assert broken.exit_code == 1
    assert session_id in broken.output
    assert "sequence gap" in broken.output and "cannot read event 3" in broken.output


def test_db_migrate_is_repeatable(db):
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["db", "migrate"])
        assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as connection:
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"game_events", "session_snapshots", "challenge_versions"} <= tables


def test_schema_command_prints_the_published_schema(db):
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.output == (SHIPPED / "schema.json").read_text()
