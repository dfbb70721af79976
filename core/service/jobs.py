"""Pending work as jobs: the port the session service hands work to when ``PENDING_WORK=queue``.

The service records a learner's action and, instead of calling the LLM itself, defers one job per
session; a worker process (``curiouscore worker``, :mod:`core.worker`) runs it outside every
transaction and appends the result with the version it read, so a job run twice (a worker killed
mid-call, a retry) records its result once. The queue itself lives in :mod:`core.queue`.
"""

from __future__ import annotations

from typing import Protocol

# The job that runs a session's pending work (grading, hints, narration, code runs).
SETTLE_SESSION = "curiouscore.settle_session"


class JobQueue(Protocol):
    """Where work is deferred to; each job is run at least once, by some worker."""

    async def defer_settle(self, session_id: str) -> None:
        """Queue the session's pending work (a no-op when a job for it is already waiting)."""
        ...

    async def defer(self, job: str, **args: str | int | float | bool | None) -> None:
        """Queue any registered job by name (see ``core.queue.register_job``)."""
        ...
