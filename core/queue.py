"""The job queue on PostgreSQL (procrastinate): deferring jobs, and the registry of job functions.

The API (``PENDING_WORK=queue``) defers; ``curiouscore worker`` (:mod:`core.worker`) runs them.
procrastinate keeps its jobs in its own tables of the same database, created on first use
(:func:`ensure_job_schema`). A job is registered once with :func:`register_job` and then deferred
by name from any process; the worker binds every registered job to its services.

Each session's settle job carries two procrastinate locks: a *queueing lock* (at most one job per
session waiting, so repeated reads of a pending session queue nothing more) and a *lock* (one job
per session running at a time, so two workers never grade the same attempt at once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from core.service.jobs import SETTLE_SESSION

if TYPE_CHECKING:
    import procrastinate

    from core.bootstrap import Services

log = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock held while creating procrastinate's tables.
JOB_SCHEMA_LOCK_KEY = 0x43435F4A51  # "CC_JQ"
JobArgs = dict[str, Any]
JobFunction = Callable[["Services", JobArgs], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RegisteredJob:
    name: str
    run: JobFunction
    retries: int


JOBS: dict[str, RegisteredJob] = {}


def register_job(name: str, *, retries: int = 3) -> Callable[[JobFunction], JobFunction]:
    """Register ``async def job(services, args)`` under ``name`` for every worker to run; defer it
    with ``JobQueue.defer(name, **args)``. Jobs must be safe to run more than once (a worker
    killed mid-job has it run again)."""

    def decorate(run: JobFunction) -> JobFunction:
        JOBS[name] = RegisteredJob(name, run, retries)
        return run

    return decorate


@register_job(SETTLE_SESSION, retries=5)
async def settle_session(services: Services, args: JobArgs) -> None:
    """Run a session's pending work (grade, hint, narration, code run) and record the outcome.

    Appended with the version read, so a second run after a crash (or alongside a read that
    settled it) records nothing twice: the engine finds nothing pending, or the append clashes.
    """
    await services.game.settle_pending(str(args["session_id"]))


def settle_queueing_lock(session_id: str) -> str:
    """At most one settle job per session waiting."""
    return f"settle:{session_id}"


def settle_lock(session_id: str) -> str:
    """At most one settle job per session running."""
    return f"session:{session_id}"


def libpq_url(database_url: str) -> str:
    """The libpq connection string for a SQLAlchemy PostgreSQL URL (driver suffix dropped)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the job queue needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://…)")
    query = dict(url.query)
    if "ssl" in query and "sslmode" not in query:  # asyncpg spells libpq's sslmode "ssl"
        query["sslmode"] = query.pop("ssl")
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


def job_app(database_url: str, *, max_connections: int = 4) -> procrastinate.App:
    """A procrastinate app on the deployment's database (not opened yet), with its own pool of at
    most ``max_connections`` (psycopg) connections."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(database_url), min_size=1, max_size=max(2, max_connections)
    )
    return procrastinate.App(connector=connector)


async def ensure_job_schema(app: procrastinate.App) -> None:
    """Create procrastinate's tables unless they exist (safe from several processes at once)."""
    connector = app.connector
    pool = connector.pool  # type: ignore[attr-defined]
    async with pool.connection() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(%s)", (JOB_SCHEMA_LOCK_KEY,))
        cursor = await connection.execute("SELECT to_regclass('procrastinate_jobs')")
        row = await cursor.fetchone()
        if row is not None and row[0] is not None:
            return
        await connection.execute(app.schema_manager.get_schema())
        log.info("created the job queue's tables")


class QueuedJobs:
    """The :class:`core.service.jobs.JobQueue` of ``PENDING_WORK=queue``: jobs in PostgreSQL."""

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    @classmethod
    async def open(cls, database_url: str, *, max_connections: int = 4) -> QueuedJobs:
        app = job_app(database_url, max_connections=max_connections)
        await app.open_async()
        try:
            await ensure_job_schema(app)
        except BaseException:
            await app.close_async()
            raise
        return cls(app)

    async def defer_settle(self, session_id: str) -> None:
        """Queue the session's settle job. A deferral that fails (PostgreSQL unreachable for a
        moment) is logged, not raised: the work is recorded in the event stream, and the
        workers' sweep (:mod:`core.service.pending_sweep`) queues it once it has waited
        ``WORKER_STALLED_AFTER_SECONDS``, so the learner's answer still succeeds."""
        try:
            await self.defer_settle_or_raise(session_id)
        except Exception as error:
            log.warning(
                "settle job not queued: the workers' sweep will queue it",
                extra={"session_id": session_id, "error": type(error).__name__},
            )

    async def defer_settle_or_raise(self, session_id: str) -> None:
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            await self.app.configure_task(
                name=SETTLE_SESSION,
                queueing_lock=settle_queueing_lock(session_id),
                lock=settle_lock(session_id),
            ).defer_async(session_id=session_id)
        except AlreadyEnqueued:
            return  # a job for this session is waiting already: it will do this work too

    async def settle_queued(self, session_id: str) -> bool:
        """Whether a settle job for the session is waiting (or scheduled for a retry) or
        running. Both halves use procrastinate's partial unique indexes."""
        pool = self.app.connector.pool  # type: ignore[attr-defined]
        async with pool.connection() as connection:
            cursor = await connection.execute(
                "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = %s AND "
                "status = 'todo') OR EXISTS (SELECT 1 FROM procrastinate_jobs WHERE lock = %s "
                "AND status = 'doing')",
                (settle_queueing_lock(session_id), settle_lock(session_id)),
            )
            row = await cursor.fetchone()
        return bool(row and row[0])

    async def defer(self, job: str, **args: str | int | float | bool | None) -> None:
        if job not in JOBS:
            raise ValueError(f"no job named {job!r} is registered")
        await self.app.configure_task(name=job).defer_async(**args)

    async def aclose(self) -> None:
        await self.app.close_async()
