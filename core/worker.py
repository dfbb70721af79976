"""``curiouscore worker``: runs the queued jobs (pending LLM work and any job registered with
``core.queue.register_job``) outside every request and every transaction.

A worker sends procrastinate heartbeats; every worker also looks, a few times per
``WORKER_STALLED_AFTER_SECONDS``, for jobs left running by a worker whose heartbeat stopped (killed,
its host lost) and queues them again, and (one worker at a time) for pending work whose job was
never queued (an API process that died between its append and its deferral: see
:mod:`core.service.pending_sweep`) and queues it. Jobs append with the version they read, so a job
run twice records its result once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core.bootstrap import Services, build_services
from core.config import Settings
from core.process_lease import acquire_llm_lease
from core.queue import JOBS, QueuedJobs, RegisteredJob, ensure_job_schema, job_app
from core.service.pending_sweep import PendingSweep

if TYPE_CHECKING:
    import procrastinate

log = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock a worker holds while it runs a round of the pending sweep.
SWEEP_LOCK_KEY = 0x43435F5357  # "CC_SW"


def bind_jobs(app: procrastinate.App, services: Services) -> None:
    """Register every job function on ``app``, each called with this process's services."""
    for job in JOBS.values():
        app.task(name=job.name, retry=job.retries)(_bound(job, services))


def _bound(job: RegisteredJob, services: Services) -> Callable[..., Awaitable[None]]:
    async def run(**args: Any) -> None:
        await job.run(services, args)

    run.__name__ = job.name.rsplit(".", 1)[-1]
    return run


async def requeue_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Queue again the jobs whose worker sent no heartbeat for ``stalled_after`` seconds; return
    how many. A stalled job whose session already has a newer job waiting is closed instead
    (that job does the same work)."""
    from procrastinate import jobs
    from procrastinate.exceptions import UniqueViolation

    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
    for job in stalled:
        assert job.id is not None
        try:
            await manager.retry_job(job)
            log.warning("re-running a stalled job", extra={"job_id": job.id, "task": job.task_name})
        except UniqueViolation:
            await manager.finish_job_by_id_async(job.id, jobs.Status.FAILED, delete_job=False)
    return len(stalled)


async def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    services: Services | None = None,
) -> None:
    """Run jobs until SIGINT/SIGTERM (graceful: running jobs finish first)."""
    if not settings.database_url.startswith("postgresql"):
        raise ValueError(
            "curiouscore worker needs PostgreSQL: set DATABASE_URL=postgresql+asyncpg://… "
            "(with SQLite, PENDING_WORK=inline does the work in the API process)"
        )
    lease = await acquire_llm_lease(settings)  # refuses a second worker without REDIS_URL
    own = services is None
    # The worker does the work itself (it never defers to the queue it drains) and publishes
    # session changes the way the API processes of PENDING_WORK=queue listen for them.
    services = services or await build_services(
        settings.model_copy(update={"pending_work": "queue"}), run_pending_here=True
    )
    stalled_after = settings.worker_stalled_after_seconds
    app = job_app(
        settings.database_url, max_connections=(concurrency or settings.worker_concurrency) + 2
    )
    bind_jobs(app, services)
    try:
        async with app.open_async():
            await ensure_job_schema(app)
            sweep = PendingSweep(
                services.store, services.game, QueuedJobs(app), after_seconds=stalled_after
            )
            recovery = asyncio.create_task(_recover_forever(app, stalled_after, sweep))
            worker = asyncio.create_task(
                app.run_worker_async(
                    name=f"curiouscore@{socket.gethostname()}:{os.getpid()}",
                    concurrency=concurrency or settings.worker_concurrency,
                    update_heartbeat_interval=max(stalled_after / 3, 0.5),
                    stalled_worker_timeout=stalled_after,
                    delete_jobs="successful",
                    # Ours, installed before "worker started" is said: a SIGTERM right after the
                    # start-up line must still stop gracefully (procrastinate's own handlers come
                    # only once its loop runs). Cancelling it finishes running jobs first.
                    install_signal_handlers=False,
                )
            )
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, worker.cancel)
            try:
                log.info(
                    "worker started",
                    extra={
                        "jobs": sorted(JOBS),
                        "concurrency": concurrency or settings.worker_concurrency,
                    },
                )
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
                recovery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recovery
    finally:
        if own:
            await services.close()
        if lease is not None:
            await lease.release()


async def sweep_pending(app: procrastinate.App, sweep: PendingSweep) -> bool:
    """Run one round of the pending sweep unless another worker is running one; True if run.

    The lock is a session-level advisory lock on a connection held for the round: a worker
    killed mid-round drops its connection and so the lock."""
    pool = app.connector.pool  # type: ignore[attr-defined]
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (SWEEP_LOCK_KEY,))
        row = await cursor.fetchone()
        if not (row and row[0]):
            return False
        try:
            await sweep.run_once()
        finally:
            await connection.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK_KEY,))
    return True


async def _recover_forever(
    app: procrastinate.App, stalled_after: float, sweep: PendingSweep
) -> None:
    while True:
        try:
            await requeue_stalled_jobs(app, stalled_after)
        except Exception as error:  # the database may blink; try again next round
            log.warning("stalled-job check failed", extra={"error": type(error).__name__})
        try:
            await sweep_pending(app, sweep)
        except Exception as error:
            log.warning("pending-work sweep failed", extra={"error": type(error).__name__})
        await asyncio.sleep(max(stalled_after / 3, 0.5))
