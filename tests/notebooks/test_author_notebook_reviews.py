"""``notebooks/author.ipynb`` given a database with reviews shows, per chat step, how the grader
agrees with reviewers (issue 14), through papermill."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.authoring.runner import RunOptions, validate_challenges
from core.bootstrap import build_services
from core.config import Settings
from core.service.actor import Actor
from tests.cli.test_cli import all_correct_input

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "challenges" / "python-functions.yaml"
REVIEWER = Actor("rita", "reviewer")


def _reviewed_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Two passing sessions, every chat grade queued; the reviewer fails one of 'why-functions'
    (a disagreement) and confirms the three others."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'reviews.db'}"
    with monkeypatch.context() as env:
        env.setenv("DATABASE_URL", url)
        env.setenv("REVIEW_SAMPLE_RATE", "1.0")
        env.chdir(tmp_path)
        for learner in ("ada", "bob"):
            result = CliRunner().invoke(
                app,
                ["play", "python-functions", "--learner", learner],
                input=all_correct_input("python-functions"),
            )
            assert result.exit_code == 0, result.output

        async def review() -> None:
            services = await build_services(Settings())
            try:
                assert services.review is not None
                queued = await services.review.queue(REVIEWER)
                assert len(queued) == 4
                for number, item in enumerate(queued):
                    failed = number == 0 and item.step_id == "why-functions"
                    await services.review.review(REVIEWER, item.review_id, passed=not failed)
            finally:
                await services.close()

        asyncio.run(review())
    return url


def test_the_notebook_shows_reviewer_grader_agreement_per_step(tmp_path, monkeypatch):
    url = _reviewed_database(tmp_path, monkeypatch)
    (run,) = validate_challenges(
        [GOOD],
        RunOptions(report_dir=tmp_path / "reports", extra_parameters={"database_url": url}),
    )
    assert run.passed, run.problems
    assert run.notebook is not None
    book = nbformat.read(run.notebook, as_version=4)
    cell = next(c for c in book.cells if "review_agreement(" in c.source)
    (output,) = [o for o in cell.outputs if "data" in o]
    html = output["data"]["text/html"]
    assert "Cohen" in html and "labelled answers" in html
    rows = {
        row.split("</td>")[0].removeprefix("<td style='text-align:left'>"): row
        for row in html.split("<tr>")[2:]
    }
    assert set(rows) == {"why-functions", "print-vs-return"}
    # why-functions: 2 reviewed, one disagreement (50%); print-vs-return: 2 of 2 agree.
    assert ">2<" in rows["why-functions"] and "50%" in rows["why-functions"]
    assert ">2<" in rows["print-vs-return"] and "100%" in rows["print-vs-return"]
