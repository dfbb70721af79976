"""PENDING_WORK=queue with the deferral lost: an API process SIGKILLed between appending the answer
and deferring its settle job, or a deferral PostgreSQL refuses, still gets its answer graded by a
real `curiouscore worker` (its pending-work sweep queues the job once the work has waited
WORKER_STALLED_AFTER_SECONDS), once; and the sweep queues nothing for work a job already has."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import psycopg
import pytest

import tests.core.test_worker as worker_tests
from core.service.pending_sweep import CHECKPOINT, PendingSweep
from core.service.session_changes import Subscription
from core.service.sessions import has_pending_work
from tests.core.llm.fake_server import FakeLlmServer, Reply
from tests.core.test_worker import (
    ADA,
    GOOD,
    ROOT,
    Worker,
    graded,
    llm_env,
    open_jobs,
    to_chat_step,
)
from tests.waiting import until

# The fixtures of tests/core/test_worker.py: a fake LLM server, and queue-mode services on PostgreSQL.
fake_llm = worker_tests.fake_llm
queued = worker_tests.queued

pytestmark = pytest.mark.postgres

SWEPT = "pending work had no job"

# An API process that records the answer and is SIGKILLed where it would defer the settle job:
# the append is committed, the job never written.
DIES_BEFORE_DEFERRING = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from core.bootstrap import build_services
    from core.config import Settings
    from core.service.actor import Actor
    from core.service.clock import SystemClock

    class DiesHere:
        async def defer_settle(self, session_id):
            os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        services = await build_services(Settings(), clock=SystemClock())
        services.game._jobs = DiesHere()
        await services.game.submit_answer(Actor("ada"), sys.argv[1], "explain", sys.argv[2])
        raise SystemExit("still alive after the append")

    asyncio.run(main())
    """
)


def api_dies_before_deferring(database_url: str, server: FakeLlmServer, session_id: str) -> None:
    env = {**os.environ, **llm_env(server), "DATABASE_URL": database_url, "PENDING_WORK": "queue"}
    done = subprocess.run(
        [sys.executable, "-c", DIES_BEFORE_DEFERRING, session_id, GOOD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


async def test_an_api_killed_between_append_and_defer_loses_no_grade(queued, fake_llm, tmp_path):
    url = queued.settings.database_url
    session_id = await to_chat_step(queued)
    api_dies_before_deferring(url, fake_llm, session_id)
    # Recorded, pending, and no job (looked at without a read, which would queue it).
    assert has_pending_work(await queued.game.hydrate(session_id))
    assert await open_jobs(url) == 0

    assert queued.changes is not None
    # The learner's open stream (SSE) is subscribed, as the SPA's would be.
    async with queued.changes.subscription(session_id) as stream:
        worker = Worker(url, fake_llm, tmp_path / "worker.log")
        try:
            [verdict] = await until(lambda: graded(queued, session_id), "the swept job's grade")
            assert verdict["attempt"] == 1
            await until(lambda: _no_open_jobs(url), "the job to finish")
            assert len(fake_llm.calls("openai")) == 1
            assert len(await graded(queued, session_id)) == 1
            # ...and is told (PostgreSQL NOTIFY from the worker), so the grade is pushed.
            version = (await queued.game.hydrate(session_id)).version
            await until(lambda: _told(stream, version), "the stream being told of the grade")
        finally:
            assert worker.stop() == 0, worker.log.read_text()
    assert SWEPT in worker.log.read_text()


async def _told(stream: Subscription, version: int) -> bool:
    await stream.wait(0.2)
    return bool(stream.version >= version)


async def test_a_refused_deferral_still_records_the_answer_and_gets_graded(
    queued, fake_llm, tmp_path, monkeypatch
):
    url = queued.settings.database_url
    session_id = await to_chat_step(queued)
    assert queued.jobs is not None

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise psycopg.OperationalError("connection refused (a PostgreSQL blip)")

    monkeypatch.setattr(queued.jobs.app, "configure_task", refused)  # type: ignore[attr-defined]
    view = await queued.game.submit_answer(ADA, session_id, "explain", GOOD)
    assert view.step is not None and view.step.awaiting_grade  # the learner's answer succeeded
    monkeypatch.undo()
    assert await open_jobs(url) == 0

    worker = Worker(url, fake_llm, tmp_path / "worker.log")
    try:
        await until(lambda: graded(queued, session_id), "the swept job's grade")
        await until(lambda: _no_open_jobs(url), "the job to finish")
        assert len(fake_llm.calls("openai")) == 1
        assert len(await graded(queued, session_id)) == 1
    finally:
        assert worker.stop() == 0, worker.log.read_text()


async def test_a_job_slower_than_the_bound_is_not_queued_again(queued, fake_llm, tmp_path):
    """The grading call outlasts WORKER_STALLED_AFTER_SECONDS several times over while the sweep
    runs: the running job is seen and nothing else is queued."""
    url = queued.settings.database_url
    fake_llm.script("openai", Reply(delay=8))
    session_id = await to_chat_step(queued)
    await queued.game.submit_answer(ADA, session_id, "explain", GOOD)
    worker = Worker(url, fake_llm, tmp_path / "worker.log")
    try:
        await until(lambda: graded(queued, session_id), "the slow grade")
        await until(lambda: _no_open_jobs(url), "the job to finish")
        assert len(fake_llm.calls("openai")) == 1
    finally:
        assert worker.stop() == 0, worker.log.read_text()
    log = worker.log.read_text()
    assert "pending-work sweep failed" not in log
    assert SWEPT not in log


async def test_the_sweep_watches_quiet_sessions_from_its_checkpoint(queued, monkeypatch):
    """In process, with a hand-wound clock: a session is looked at once it has been quiet for the
    bound, deferred only while its work has no job, and the watch list survives in the
    checkpoint for the next round (any worker's)."""
    assert queued.jobs is not None
    now = [1_000.0]

    def sweep() -> PendingSweep:
        return PendingSweep(
            queued.store, queued.game, queued.jobs, after_seconds=30, wall_clock=lambda: now[0]
        )

    pending = await to_chat_step(queued)
    await queued.game.submit_answer(ADA, pending, "explain", GOOD)  # its job is waiting
    idle = await to_chat_step(queued)  # nothing pending (an open question for the learner)

    await read_through(sweep(), queued, pending, idle)
    checkpoint = await queued.store.load_checkpoint(CHECKPOINT)
    assert checkpoint is not None and set(checkpoint.state["watching"]) == {pending, idle}

    now[0] += 31
    second = await sweep().run_once()  # a new instance: it starts from the checkpoint
    assert second.events_read == 0 and second.sessions_checked == 2
    assert second.deferred == []  # the waiting job has it; the idle session waits on nobody
    assert await open_jobs(queued.settings.database_url) == 1

    # The idle session's learner answers, and the deferral is lost: moved again, watched again.
    monkeypatch.setattr(queued.game, "_jobs", LostDeferrals())
    await queued.game.submit_answer(ADA, idle, "explain", GOOD)
    monkeypatch.undo()
    await read_through(sweep(), queued, idle)
    checkpoint = await queued.store.load_checkpoint(CHECKPOINT)
    assert checkpoint is not None and set(checkpoint.state["watching"]) == {idle}  # pending: done
    now[0] += 31
    fourth = await sweep().run_once()
    assert fourth.deferred == [idle]  # its grade waits on the LLM with no job
    assert await open_jobs(queued.settings.database_url) == 2
    assert (await sweep().run_once()).deferred == []  # once


class LostDeferrals:
    async def defer_settle(self, session_id: str) -> None:
        return None


async def read_through(sweep: PendingSweep, services: Any, *session_ids: str) -> None:
    """Run rounds until the sweep has read every event of ``session_ids`` (on PostgreSQL the log
    is read only below the oldest running transaction of the whole server, and other tests'
    transactions may hold that back for a moment)."""
    last = 0
    for session_id in session_ids:
        last = max(last, (await services.store.read_stream(session_id))[-1].position)

    async def caught_up() -> bool:
        done = await sweep.run_once()
        assert done.deferred == [] and done.sessions_checked == 0  # nothing is quiet yet
        checkpoint = await services.store.load_checkpoint(CHECKPOINT)
        return checkpoint is not None and checkpoint.position >= last

    await until(caught_up, "the sweep reading the new events")


async def _no_open_jobs(url: str) -> bool:
    return await open_jobs(url) == 0


async def test_the_worker_runs_the_sweep_one_at_a_time(queued):
    from core.worker import SWEEP_LOCK_KEY, sweep_pending

    assert queued.jobs is not None
    app = queued.jobs.app  # type: ignore[attr-defined]
    sweep = PendingSweep(queued.store, queued.game, queued.jobs, after_seconds=30)
    async with app.connector.pool.connection() as holder:
        await holder.execute("SELECT pg_advisory_lock(%s)", (SWEEP_LOCK_KEY,))
        assert await sweep_pending(app, sweep) is False  # another worker is sweeping
        await holder.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK_KEY,))
    assert await sweep_pending(app, sweep) is True


class RefusesOnce:
    """The queue, refusing the first deferral (PostgreSQL blinking mid-round)."""

    def __init__(self, jobs: Any) -> None:
        self.jobs, self.refused = jobs, False

    async def settle_queued(self, session_id: str) -> bool:
        return bool(await self.jobs.settle_queued(session_id))

    async def defer_settle_or_raise(self, session_id: str) -> None:
        if not self.refused:
            self.refused = True
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        await self.jobs.defer_settle_or_raise(session_id)


async def test_a_round_whose_deferral_fails_forgets_nothing(queued, monkeypatch):
    assert queued.jobs is not None
    now = [1_000.0]
    jobs = RefusesOnce(queued.jobs)
    sweep = PendingSweep(
        queued.store, queued.game, jobs, after_seconds=30, wall_clock=lambda: now[0]
    )
    session_id = await to_chat_step(queued)
    monkeypatch.setattr(queued.game, "_jobs", LostDeferrals())
    await queued.game.submit_answer(ADA, session_id, "explain", GOOD)
    monkeypatch.undo()
    await read_through(sweep, queued, session_id)
    now[0] += 31
    with pytest.raises(psycopg.OperationalError):
        await sweep.run_once()
    assert await open_jobs(queued.settings.database_url) == 0
    assert (await sweep.run_once()).deferred == [session_id]  # the next round looks again
    assert await open_jobs(queued.settings.database_url) == 1
