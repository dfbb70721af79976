"""PENDING_WORK=queue end to end: the answer returns awaiting its grade, a real `curiouscore
worker` subprocess grades it through the fake LLM server, and a worker killed (SIGKILL) while the
LLM is still thinking loses nothing: the job runs again and the grade is appended once."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.bootstrap import ConfigurationError, Services, build_services
from core.config import Settings
from core.content import ChallengeFile
from core.service.actor import Actor
from core.service.clock import SystemClock
from core.store.engine import create_store_engine
from tests.api.conftest import QUIZ, reset_postgres
from tests.core.llm.conftest import API_KEY
from tests.core.llm.fake_server import FakeLlmServer, Reply
from tests.waiting import until

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
ADA = Actor("ada")
GOOD = "Functions let you reuse a named block of logic."
STALLED_AFTER = 2.0


def quiet_quiz() -> ChallengeFile:
    """The API tests' quiz without narration, so the only LLM call is the chat grade."""
    raw: dict[str, Any] = copy.deepcopy(QUIZ)
    raw["steps"][0]["narrate"] = False
    return ChallengeFile.model_validate(raw)


def llm_env(server: FakeLlmServer) -> dict[str, str]:
    return {
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": f"{server.url}/v1",
        "LLM_TIMEOUT_SECONDS": "120",  # longer than the stuck call: only the kill ends it
        "LLM_MAX_RETRIES": "0",
    }


@pytest.fixture
def fake_llm() -> Iterator[FakeLlmServer]:
    server = FakeLlmServer().start()
    yield server
    server.stop()


@pytest.fixture
async def queued(fake_llm: FakeLlmServer) -> AsyncIterator[Services]:
    url = await reset_postgres()
    settings = Settings(
        env="test",
        database_url=url,
        pending_work="queue",
        **{k.lower(): v for k, v in llm_env(fake_llm).items()},
    )
    services = await build_services(settings, clock=SystemClock())
    await services.catalog.publish(quiet_quiz(), at=services.clock.now())
    await services.learners.ensure_learner("ada", "Ada")
    yield services
    await services.close()


class Worker:
    """`curiouscore worker` as a real subprocess."""

    def __init__(self, database_url: str, server: FakeLlmServer, log: Path) -> None:
        env = {
            **os.environ,
            **llm_env(server),
            "DATABASE_URL": database_url,
            "WORKER_STALLED_AFTER_SECONDS": str(STALLED_AFTER),
            "LOG_LEVEL": "INFO",
        }
        env.pop("PENDING_WORK", None)
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "worker", "--concurrency", "2"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


async def to_chat_step(services: Services) -> str:
    game = services.game
    view = await game.create_session(ADA, "quiz")
    session_id = view.session_id
    await game.start_session(ADA, session_id)
    await game.continue_gate(ADA, session_id, "welcome")
    await game.submit_answer(ADA, session_id, "pick", 0)
    await game.submit_answer(ADA, session_id, "several", (0, 2))
    await game.submit_answer(ADA, session_id, "truth", True)
    return session_id


async def graded(services: Services, session_id: str) -> list[dict[str, Any]]:
    events = await services.store.read_stream(session_id)
    return [e.data for e in events if e.type == "AnswerGraded" and e.data["step_id"] == "explain"]


async def open_jobs(url: str) -> int:
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_answer_returns_awaiting_and_a_worker_grades_it(queued, fake_llm, tmp_path):
    session_id = await to_chat_step(queued)
    view = await queued.game.submit_answer(ADA, session_id, "explain", GOOD)
    assert view.step is not None and view.step.awaiting_grade  # returned before any LLM call
    assert fake_llm.calls("openai") == []
    assert (await queued.game.get_view(ADA, session_id)).step.awaiting_grade  # reads never grade

    worker = Worker(queued.settings.database_url, fake_llm, tmp_path / "worker.log")
    try:
        [verdict] = await until(lambda: graded(queued, session_id), "the worker's grade")
        assert verdict["grader"] == "openai" and verdict["attempt"] == 1
        view = await queued.game.get_view(ADA, session_id)
        assert view.result is not None and view.result.passed
        assert len(fake_llm.calls("openai")) == 1
    finally:
        assert worker.stop() == 0, worker.log.read_text()


async def test_a_worker_killed_mid_grading_loses_nothing(queued, fake_llm, tmp_path):
    url = queued.settings.database_url
    fake_llm.script("openai", Reply(delay=600))  # the first grading call hangs
    session_id = await to_chat_step(queued)
    await queued.game.submit_answer(ADA, session_id, "explain", GOOD)

    first = Worker(url, fake_llm, tmp_path / "first.log")
    try:
        await until(lambda: len(fake_llm.calls("openai")) == 1, "the first worker's LLM call")
        first.kill()  # SIGKILL: no cleanup, the job is left "doing"
        assert await graded(queued, session_id) == []
        second = Worker(url, fake_llm, tmp_path / "second.log")
        try:
            [verdict] = await until(lambda: graded(queued, session_id), "the re-run job's grade")
            assert verdict["attempt"] == 1
            assert len(fake_llm.calls("openai")) == 2  # the call was made again, not recorded twice
            await until(lambda: _no_open_jobs(url), "the job to finish")
            assert len(await graded(queued, session_id)) == 1
        finally:
            assert second.stop() == 0, (tmp_path / "second.log").read_text()
    finally:
        if first.process.poll() is None:
            first.kill()


async def _no_open_jobs(url: str) -> bool:
    return await open_jobs(url) == 0


async def test_a_job_run_twice_records_the_grade_once(queued, fake_llm):
    """Two runs of the same job at once, as two processes (each its own services, so no shared
    in-process single flight): both call the LLM, one grade lands, the other append clashes."""
    session_id = await to_chat_step(queued)
    await queued.game.submit_answer(ADA, session_id, "explain", GOOD)
    fake_llm.script("openai", Reply(delay=0.5), Reply(delay=0.5))  # both calls overlap
    runners = [
        await build_services(queued.settings, clock=SystemClock(), run_pending_here=True)
        for _ in range(2)
    ]
    try:
        await asyncio.gather(*(r.game.settle_pending(session_id) for r in runners))
        await runners[0].game.settle_pending(session_id)  # and a third, later: nothing pending
    finally:
        for runner in runners:
            await runner.close()
    assert len(fake_llm.calls("openai")) == 2
    assert len(await graded(queued, session_id)) == 1


async def test_queue_mode_needs_postgresql(tmp_path):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", pending_work="queue"
    )
    with pytest.raises(ConfigurationError, match="PENDING_WORK=queue needs PostgreSQL"):
        await build_services(settings)


def test_the_worker_command_refuses_sqlite_naming_the_fix(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cli", "worker"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "needs PostgreSQL" in done.stderr and "Traceback" not in done.stderr
