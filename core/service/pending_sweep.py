"""The pending-work sweep: recorded work never waits forever for a job nobody queued.

With ``PENDING_WORK=queue`` an answer that needs the LLM (a grade, a hint, a narration, a code run)
is appended with its work pending, the transaction commits, and only then is the session's settle
job deferred (:mod:`core.queue`). An API process that dies between the two, or a deferral refused
by a PostgreSQL blip, leaves the work recorded in the event stream with no job to do it; before
this sweep only a later read of the session queued it, and a learner waiting on a bot or an open
stream reads nothing.

Rather than writing the job in the append's transaction, the workers treat the event log itself
as the outbox: the log already says which sessions moved, and a session's state says whether work
is pending. The sweep follows the global log from a checkpoint (``read_all`` is gap-free, so a
session whose last event commits late is still seen) and remembers each session that moved with
the wall-clock time it saw that session's newest event. Once that is ``after_seconds`` old the
session is hydrated; if its work is still pending and no settle job for it is waiting or running,
the job is deferred. A session is looked at once per quiet spell, not once per event.

Deferring is always safe: the job is idempotent (the grade is appended with the version read, so
a second run records nothing) and the queueing lock keeps one waiting job per session. The sweep's
position and the sessions it still watches are kept in a projection checkpoint, so any worker can
run the next round (``curiouscore worker`` lets one at a time, under an advisory lock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from core.errors import DomainError
from core.service.sessions import GameService, has_pending_work
from core.store.base import Store
from core.store.projections import Checkpoint

log = logging.getLogger(__name__)

CHECKPOINT = "pending_work_sweep"
READ_BATCH = 1000


class SettleJobs(Protocol):
    """The part of the job queue the sweep needs (``core.queue.QueuedJobs``)."""

    async def settle_queued(self, session_id: str) -> bool:
        """Whether a settle job for the session is waiting or running."""
        ...

    async def defer_settle_or_raise(self, session_id: str) -> None:
        """Queue the settle job; a failure raises, so the round ends before the session is
        forgotten (its checkpoint is not saved, and the next round looks again)."""
        ...


@dataclass(slots=True)
class SweepRound:
    """What one round did (for logs and tests)."""

    events_read: int = 0
    sessions_checked: int = 0
    deferred: list[str] = field(default_factory=list)
    watching: int = 0  # sessions seen moving, not yet quiet for long enough


class PendingSweep:
    """One round at a time (:meth:`run_once`); the state lives in the store's checkpoint."""

    def __init__(
        self,
        store: Store,
        game: GameService,
        jobs: SettleJobs,
        *,
        after_seconds: float,
        max_events: int = 100 * READ_BATCH,
        max_checks: int = 2000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._game = game
        self._jobs = jobs
        self._after = after_seconds
        self._max_events = max_events  # a long backlog (a first run) is spread over rounds
        self._max_checks = max_checks
        self._now = wall_clock

    async def run_once(self) -> SweepRound:
        """Read the log on from the checkpoint, defer the settle job of every session whose work
        has waited ``after_seconds`` with no job, and save the checkpoint."""
        done = SweepRound()
        checkpoint = await self._store.load_checkpoint(CHECKPOINT)
        position = checkpoint.position if checkpoint is not None else 0
        raw = checkpoint.state.get("watching", {}) if checkpoint is not None else {}
        watching: dict[str, float] = {str(k): float(v) for k, v in dict(raw).items()}

        while done.events_read < self._max_events:
            batch = await self._store.read_all(position, limit=READ_BATCH)
            if not batch:
                break
            seen = self._now()  # after the read: never earlier than the commit of what it read
            for event in batch:
                watching[event.stream_id] = seen  # moved again: quiet from now on
                position = event.position
            done.events_read += len(batch)
            if len(batch) < READ_BATCH:
                break

        now = self._now()
        due = sorted((t, s) for s, t in watching.items() if now - t >= self._after)
        for seen_at, session_id in due[: self._max_checks]:
            del watching[session_id]
            done.sessions_checked += 1
            if await self._stranded(session_id):
                await self._jobs.defer_settle_or_raise(session_id)
                done.deferred.append(session_id)
                log.warning(
                    "pending work had no job: queued it",
                    extra={"session_id": session_id, "waited_seconds": round(now - seen_at, 1)},
                )
        done.watching = len(watching)
        await self._store.save_checkpoint(
            Checkpoint(
                CHECKPOINT,
                position,
                {"watching": watching},
                datetime.fromtimestamp(now, UTC).isoformat(),
            )
        )
        return done

    async def _stranded(self, session_id: str) -> bool:
        """Whether the session's work is pending with no settle job waiting or running."""
        try:
            state = await self._game.hydrate(session_id)
        except DomainError:  # gone (archived): nothing to settle
            return False
        if not has_pending_work(state):
            return False
        return not await self._jobs.settle_queued(session_id)
