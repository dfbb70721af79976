"""Chat threads and delivery de-duplication: the persistence the Discord and Slack bots share.

A thread (Discord thread, Slack ``thread_ts``) holds exactly one session; a platform's delivery id
(Discord interaction id, Slack ``event_id``) is recorded once, so a retried delivery appends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    async def first_delivery(self, platform: str, delivery_id: str, received_at: str) -> bool:
        seen = self._chat.deliveries
        if (platform, delivery_id) in seen:
            return False
        seen.add((platform, delivery_id))
        return True
