"""Chat threads and delivery de-duplication: the persistence the Discord and Slack bots share.

A thread (Discord thread, Slack ``thread_ts``) holds exactly one session; a platform's delivery id
(Discord interaction id, Slack ``event_id``) is recorded once, so a retried delivery appends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChatThread:
    """Where a session is played: ``scope_id`` is the guild or workspace, ``thread_id`` the thread."""

    platform: str
    scope_id: str
    thread_id: str
    channel_id: str
    session_id: str
    learner_id: str
    created_at: str
    # What the learner has been shown here: the transcript up to ``delivered_seq`` and the step
    # (or ``FINISHED`` once the result or the abandonment has been shown).
    delivered_seq: int = 0
    shown: str = ""
    # When the thread is due to be archived (ISO-8601 UTC), once its session is over.
    archive_at: str | None = None


FINISHED = "#finished"


class ChatStore(Protocol):
    async def bind_thread(self, thread: ChatThread) -> bool:
        """Record that ``thread`` holds its session; False if the thread or session is bound."""
        ...

    async def thread_for_session(self, session_id: str) -> ChatThread | None: ...

    async def session_in_thread(
        self, platform: str, scope_id: str, thread_id: str
    ) -> ChatThread | None: ...

    async def first_delivery(self, platform: str, delivery_id: str, received_at: str) -> bool:
        """Record a delivery id; True the first time it is seen, False for a retry."""
        ...

    async def record_shown(self, session_id: str, delivered_seq: int, shown: str) -> None:
        """Record what the session's thread now shows; ``delivered_seq`` never moves back."""
        ...

    async def unfinished_threads(self, platform: str) -> list[ChatThread]:
        """The platform's threads whose session's end has not been shown yet."""
        ...

    async def schedule_archive(self, session_id: str, at: str) -> None:
        """Archive the session's thread at ``at`` (kept over restarts; a later call moves it)."""
        ...

    async def due_archives(self, platform: str, now: str) -> list[ChatThread]:
        """The platform's threads due to be archived at ``now``, earliest first."""
        ...

    async def archive_done(self, session_id: str) -> None:
        """The session's thread is archived (or gone): nothing is due for it any more."""
        ...

    async def rebind_thread(self, thread: ChatThread) -> None:
        """Move ``thread.session_id`` to a new thread (its old one is gone), keeping what was
        already delivered."""
        ...


@dataclass(slots=True)
class _ChatTables:
    threads: dict[tuple[str, str, str], ChatThread] = field(default_factory=dict)
    by_session: dict[str, ChatThread] = field(default_factory=dict)
    deliveries: set[tuple[str, str]] = field(default_factory=set)


class InMemoryChat:
    """:class:`ChatStore` in process memory, mixed into ``InMemoryStore``."""

    @property
    def _chat(self) -> _ChatTables:
        # Created on first use so the host class needs no change to its __init__.
        tables: _ChatTables | None = getattr(self, "_chat_tables_", None)
        if tables is None:
            tables = _ChatTables()
            self._chat_tables_ = tables
        return tables

    async def bind_thread(self, thread: ChatThread) -> bool:
        tables = self._chat
        key = (thread.platform, thread.scope_id, thread.thread_id)
        if key in tables.threads or thread.session_id in tables.by_session:
            return False
        tables.threads[key] = thread
        tables.by_session[thread.session_id] = thread
        return True

    async def thread_for_session(self, session_id: str) -> ChatThread | None:
        return self._chat.by_session.get(session_id)

    async def session_in_thread(
        self, platform: str, scope_id: str, thread_id: str
    ) -> ChatThread | None:
        return self._chat.threads.get((platform, scope_id, thread_id))

    async def record_shown(self, session_id: str, delivered_seq: int, shown: str) -> None:
        tables = self._chat
        thread = tables.by_session.get(session_id)
        if thread is None:
            return
        updated = replace(
            thread, delivered_seq=max(thread.delivered_seq, delivered_seq), shown=shown
        )
        tables.by_session[session_id] = updated
        tables.threads[(thread.platform, thread.scope_id, thread.thread_id)] = updated

    async def unfinished_threads(self, platform: str) -> list[ChatThread]:
        return [
            t
            for t in self._chat.by_session.values()
            if t.platform == platform and t.shown != FINISHED
        ]

    async def schedule_archive(self, session_id: str, at: str) -> None:
        self._set(session_id, archive_at=at)

    async def due_archives(self, platform: str, now: str) -> list[ChatThread]:
        due = [
            t
            for t in self._chat.by_session.values()
            if t.platform == platform and t.archive_at is not None and t.archive_at <= now
        ]
        return sorted(due, key=lambda t: t.archive_at or "")

    async def archive_done(self, session_id: str) -> None:
        self._set(session_id, archive_at=None)

    def _set(self, session_id: str, **changes: object) -> None:
        tables = self._chat
        thread = tables.by_session.get(session_id)
        if thread is None:
            return
        updated = replace(thread, **changes)  # type: ignore[arg-type]
        tables.by_session[session_id] = updated
        tables.threads[(thread.platform, thread.scope_id, thread.thread_id)] = updated

    async def rebind_thread(self, thread: ChatThread) -> None:
        tables = self._chat
        old = tables.by_session.get(thread.session_id)
        if old is not None:
            tables.threads.pop((old.platform, old.scope_id, old.thread_id), None)
            thread = replace(thread, delivered_seq=old.delivered_seq, shown=old.shown)
        tables.threads[(thread.platform, thread.scope_id, thread.thread_id)] = thread
        tables.by_session[thread.session_id] = thread

    async def first_delivery(self, platform: str, delivery_id: str, received_at: str) -> bool:
        seen = self._chat.deliveries
        if (platform, delivery_id) in seen:
            return False
        seen.add((platform, delivery_id))
        return True
