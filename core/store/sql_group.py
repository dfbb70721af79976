"""Group commit: concurrent appends share one transaction (and one commit) on SQLite.

SQLite has one writer at a time, so appends from concurrent requests used to queue for the write
lock and each paid its own ``BEGIN IMMEDIATE … COMMIT``. :class:`GroupCommitter` queues them
instead; one writer task (started when the first append arrives, ending when the queue is empty)
takes everything queued, up to ``max_group``, and hands the group to the store, which writes it in
one transaction. Each append keeps its own outcome: its result, or the error that refused it
(version conflict, reused idempotency key, XP already granted), which fails that append alone. An
error of the transaction itself (the commit, the database gone) fails every append of the group,
as it would have failed each of them alone.

The store writes a group at once, and only when one of its appends fails does it roll the group
back and write it again with each append in a savepoint of its own (rolled back to, alone, when it
fails): the common group, where nothing is refused, does not pay two statements per append for
the rare one (``SqlEventStore._commit_group``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.store.base import AppendResult, NewEvent, ReadModelChanges

# How many appends at most go into one transaction (a group of this size holds the write lock
# for a few milliseconds; later arrivals form the next group).
MAX_GROUP = 64


@dataclass(slots=True)
class AppendRequest:
    """One caller's append, as queued for the writer."""

    stream_id: str
    events: list[NewEvent]
    expected_version: int
    idempotency_key: str | None
    recorded_at: str
    request_digest: str | None
    changes: ReadModelChanges | None


Outcome = AppendResult | BaseException
CommitGroup = Callable[[Sequence[AppendRequest]], Awaitable[list[Outcome]]]


class GroupCommitter:
    """A queue of appends drained by one writer task; see the module docstring."""

    def __init__(self, commit_group: CommitGroup, *, max_group: int = MAX_GROUP) -> None:
        self._commit_group = commit_group
        self._max_group = max_group
        self._queue: list[tuple[AppendRequest, asyncio.Future[AppendResult]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.groups = 0  # transactions committed (for tests and benchmarks)
        self.appends = 0  # appends they carried

    async def submit(self, request: AppendRequest) -> AppendResult:
        """Queue ``request``; return its result once its group is committed (or raise its error)."""
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="sqlite-group-commit")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            taken = self._queue[: self._max_group]
            del self._queue[: self._max_group]
            # A caller that gave up before its group started is not written.
            group = [(request, future) for request, future in taken if not future.done()]
            if not group:
                continue
            try:
                outcomes = await self._commit_group([request for request, _ in group])
            except Exception as error:  # the transaction itself failed: every append with it
                outcomes = [error] * len(group)
            self.groups += 1
            self.appends += len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
