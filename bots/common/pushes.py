"""Following the event log, so that what no bot action caused still reaches the thread: a
teacher's review (``GradeReviewed``), a grade appended by a worker or another bot process.

Both bots run :func:`follow_pushes` in the background with their own ``deliver`` (which posts
whatever the thread has not shown, as after any action); core says which threads to look at and
keeps the position in the database, so a review made while the bot was down arrives at start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bots.common.work import WorkTracker
from core.service.chat import ChatService
from core.store.chat import ChatThread

log = logging.getLogger(__name__)

PUSH_INTERVAL = 2.0


async def follow_pushes(
    chat: ChatService,
    platform: str,
    deliver: Callable[[ChatThread], Awaitable[object]],
    work: WorkTracker,
    *,
    interval: float = PUSH_INTERVAL,
) -> None:
    """Until shutdown: every ``interval`` seconds, deliver in each thread whose session changed."""
    while not work.closing:
        more = False
        try:
            pushes = await chat.pushes(platform)
            for thread in pushes.threads:
                if work.closing:
                    return  # not recorded as followed: the next start delivers the rest
                try:
                    await deliver(thread)
                except Exception:  # one thread's failure (deleted, no access) stops no other
                    log.warning("push to thread %s failed", thread.thread_id, exc_info=True)
            await chat.followed(platform, pushes.position)
            more = pushes.more
        except Exception:
            log.exception("following the event log failed; trying again")
        if not more:
            await work.pause(interval)
