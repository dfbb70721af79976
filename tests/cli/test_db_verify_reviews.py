"""``curiouscore db verify`` rebuilds the review queue and the XP adjustments from the events
(issue 14): each tampering with them makes it exit non-zero, naming the row and what differs."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from core.bootstrap import build_services
from core.config import Settings
from core.service.actor import Actor
from tests.cli.test_db_verify_tampering import KEY, play, sql, verify

REVIEWER = Actor("rita", "reviewer")


@pytest.fixture
def reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    """Ada's session with both written answers queued (every grade sampled), one reviewed down:
    her grant shrinks, recorded as an adjustment. Returns the database, the reviewed row's id and
    the other row's."""
    path = tmp_path / "cli.db"
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("EVENT_HMAC_KEY", KEY)
    monkeypatch.delenv("EVENT_HMAC_KEYS", raising=False)
    monkeypatch.setenv("REVIEW_SAMPLE_RATE", "1.0")
    monkeypatch.chdir(tmp_path)
    play("ada")

    async def review() -> tuple[str, str]:
        services = await build_services(Settings())
        try:
            assert services.review is not None
            first, second = await services.review.queue(REVIEWER)
            applied = await services.review.review(
                REVIEWER, first.review_id, passed=False, comment="Too short."
            )
            assert applied.passed is False
            return first.review_id, second.review_id
        finally:
            await services.close()

    first, second = asyncio.run(review())
    code, output = verify()
    assert code == 0, output
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM xp_adjustments").fetchone()[0] == 1
    return path, first, second


def test_verify_passes_with_reviews_in_the_log(reviewed):
    code, output = verify()
    assert code == 0 and "0 problems" in output


def test_a_deleted_review_row_is_caught(reviewed):
    db, first, _ = reviewed
    sql(db, "DELETE FROM review_queue WHERE review_id = ?", first)
    code, output = verify()
    assert code == 1
    assert f"review_queue {first}" in output and "missing" in output and "was reviewed" in output


def test_an_edited_answer_or_verdict_in_the_queue_is_caught(reviewed):
    db, _, second = reviewed
    sql(db, "UPDATE review_queue SET answer = 'something else' WHERE review_id = ?", second)
    sql(db, "UPDATE review_queue SET verdict = '{}' WHERE review_id = ?", second)
    code, output = verify()
    assert code == 1
    assert f"review_queue {second}" in output
    assert "differs from the events in answer, verdict" in output


def test_a_review_that_no_event_made_is_caught(reviewed):
    db, _, second = reviewed
    sql(
        db,
        "UPDATE review_queue SET reviewer_id = 'mallory', reviewed_at = '2026-01-01', "
        "review = '{\"passed\": true}' WHERE review_id = ?",
        second,
    )
    code, output = verify()
    assert code == 1
    assert f"review_queue {second}" in output
    assert "reviewer_id, reviewed_at, review" in output


def test_a_queued_row_that_no_grade_made_is_caught(reviewed):
    db, _, second = reviewed
    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "SELECT * FROM review_queue WHERE review_id = ?", (second,)
        ).fetchone()
        columns = [c[1] for c in connection.execute("PRAGMA table_info(review_queue)")]
        forged = dict(zip(columns, row, strict=True)) | {"review_id": "forged", "attempt": 9}
        connection.execute(
            f"INSERT INTO review_queue ({', '.join(forged)}) "
            f"VALUES ({', '.join('?' for _ in forged)})",
            tuple(forged.values()),
        )
    code, output = verify()
    assert code == 1
    assert "review_queue forged" in output and "no AnswerGraded event made" in output


def test_a_deleted_or_edited_xp_adjustment_is_caught(reviewed):
    db, _, _ = reviewed
    sql(db, "UPDATE xp_adjustments SET xp_change = xp_change - 50")
    code, output = verify()
    assert code == 1
    assert "xp_adjustments terminal:ada/python-functions" in output
    assert "that no GradeReviewed event made" in output and "missing: the review" in output
    sql(db, "DELETE FROM xp_adjustments")
    code, output = verify()
    assert code == 1
    assert "that no GradeReviewed event made" not in output and "missing: the review" in output
