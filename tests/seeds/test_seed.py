"""Seeding is idempotent, versions changed files, and refuses to store anything from a bad batch."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.bootstrap import build_services
from core.config import Settings
from core.service.actor import Actor
from core.store import InMemoryStore
from seeds import default_challenge_dir, ensure_seeded, seed_challenges

SHIPPED = Path(__file__).resolve().parents[2] / "challenges"


async def _services():
    return await build_services(Settings(database_url="memory://"), store=InMemoryStore())


async def test_seeding_twice_changes_nothing(tmp_path):
    services = await _services()
    first = await seed_challenges(services, [SHIPPED])
    second = await seed_challenges(services, [SHIPPED])
    assert first.ok and {r.outcome.value for r in first.results} == {"created"}
    assert {r.outcome.value for r in second.results} == {"unchanged"}
    assert len(await services.catalog.summaries()) == len(list(SHIPPED.glob("*.yaml")))


async def test_a_changed_file_becomes_a_new_version_and_old_sessions_keep_theirs(tmp_path):
    services = await _services()
    path = tmp_path / "python-functions.yaml"
    shutil.copy(SHIPPED / "python-functions.yaml", path)
    await seed_challenges(services, [path])
    await services.learners.ensure_learner("ada", "Ada")
    old_session = await services.game.create_session(Actor("ada"), "python-functions")

    path.write_text(
        path.read_text().replace("title: Introduction to Functions", "title: Functions, revisited")
    )
    report = await seed_challenges(services, [path])
    assert [(r.version, r.outcome.value) for r in report.results] == [(2, "new version")]

    view = await services.game.start_session(Actor("ada"), old_session.session_id)
    assert view.challenge_version == 1 and view.title == "Introduction to Functions"
    assert (await services.catalog.summary("python-functions")).title == "Functions, revisited"
    assert (await services.catalog.spec("python-functions", 1)).title == "Introduction to Functions"


async def test_one_bad_file_stores_nothing_and_names_the_problem(tmp_path):
    services = await _services()
    shutil.copy(SHIPPED / "sql-joins.yaml", tmp_path / "sql-joins.yaml")
    (tmp_path / "broken.yaml").write_text("id: broken\ntitle: Broken\nsteps: []\n")
    report = await seed_challenges(services, [tmp_path])
    assert not report.ok and report.results == ()
    assert "broken.yaml" in str(report.errors[0]) and "steps" in str(report.errors[0])
    assert await services.catalog.summaries() == []


async def test_first_run_seeds_the_shipped_challenges_once():
    services = await _services()
    assert (await ensure_seeded(services)) is not None
    assert await ensure_seeded(services) is None
    assert default_challenge_dir("no/such/dir").resolve() == SHIPPED


async def test_a_scaffold_still_full_of_todo_text_is_refused(tmp_path):
    from core.authoring.builder import write_challenge
    from core.authoring.scaffold import scaffold_challenge

    services = await _services()
    write_challenge(scaffold_challenge("unfinished"), tmp_path)
    report = await seed_challenges(services, [tmp_path])
    assert not report.ok and report.results == ()
    (error,) = report.errors
    assert error.problems[0].startswith(
        f"{tmp_path / 'unfinished.yaml'}: summary: still contains TODO"
    )
    assert any(": steps[1].prompt: still contains TODO" in p for p in error.problems)
    assert await services.catalog.summaries() == []
