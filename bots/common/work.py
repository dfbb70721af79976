"""Work in progress, so that shutting down lets running learner actions finish (with a deadline).

Each handler runs inside ``tracker.running()``; ``drain(deadline)`` waits for them, then cancels
what is left. What a cancelled action recorded is not lost: the next start delivers it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any

log = logging.getLogger(__name__)


class WorkTracker:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False
        self._closing = asyncio.Event()

    async def pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking at once when shutdown begins (for background loops)."""
        if not self.closing:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Mark the current task as work to wait for on shutdown."""
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``work`` in the background, tracked like a handler."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def drain(self, deadline: float) -> None:
        """Wait up to ``deadline`` seconds for running work, then cancel the rest."""
        self.closing = True
        self._closing.set()
        current = asyncio.current_task()
        pending = {t for t in self._tasks if t is not current and not t.done()}
        if not pending:
            return
        log.info("waiting for %d running action(s) to finish", len(pending))
        _, late = await asyncio.wait(pending, timeout=deadline)
        for task in late:
            task.cancel()
        if late:
            log.warning("%d action(s) cut short at shutdown; delivered after restart", len(late))
            await asyncio.gather(*late, return_exceptions=True)
