"""Session change notifications: who is told that a session moved on (a grade a worker recorded,
a teacher's review, a hint), so a stream subscriber (SSE) sends the new view at once.

A notification carries only the session id and the version reached: it is a prompt to read the
session again, never the data itself, so a lost or duplicated one costs at most a re-read (and the
subscriber re-reads on every heartbeat anyway). :class:`LocalChanges` delivers within one process;
``core.store.change_feeds`` carries them across processes (PostgreSQL LISTEN/NOTIFY or Redis
pub/sub) and hands them to a :class:`LocalChanges` in every process.

Besides sessions, a learner is a topic (:func:`learner_topic`): the account service publishes on
it when the learner's access tokens stop working (sign-out, refresh-token reuse, a role change),
so every open stream of that learner, in every process, checks its token at once instead of at
its next heartbeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

LEARNER_TOPIC_PREFIX = "learner:"  # never a session id (those are generated without a colon)


def learner_topic(learner_id: str) -> str:
    """The topic told when the learner's sign-ins end (published with version 0)."""
    return f"{LEARNER_TOPIC_PREFIX}{learner_id}"


class ChangePublisher(Protocol):
    """Told after every append (and, on a learner's topic, when their sign-ins end); must not
    block (the notification is sent in the background)."""

    def publish(self, session_id: str, version: int) -> None: ...


class ChangeFeed(ChangePublisher, Protocol):
    """Publish changes and let subscribers wait for the next one on any of their topics."""

    def subscription(
        self, session_id: str, *topics: str
    ) -> AbstractAsyncContextManager[Subscription]: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class Subscription:
    """One subscriber's interest in one session: :meth:`wait` returns once it changed."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self.version = 0  # the newest version notified so far

    def notify(self, version: int) -> None:
        self.version = max(self.version, version)
        self._changed.set()

    async def wait(self, seconds: float) -> bool:
        """True when the session changed since the last wait; False after ``seconds``."""
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return False
        self._changed.clear()
        return True


class LocalChanges:
    """Changes delivered within this process (the embedded default, and the receiving end of
    every cross-process feed)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    def publish(self, session_id: str, version: int) -> None:
        self.deliver(session_id, version)

    def deliver(self, session_id: str, version: int) -> None:
        """Wake every subscriber of ``session_id``."""
        for subscription in tuple(self._subscribers.get(session_id, ())):
            subscription.notify(version)

    @asynccontextmanager
    async def subscription(self, session_id: str, *topics: str) -> AsyncIterator[Subscription]:
        """Woken by a change of ``session_id`` or of any of ``topics`` (e.g. a learner's)."""
        subscription = Subscription()
        keys = (session_id, *topics)
        for key in keys:
            self._subscribers.setdefault(key, set()).add(subscription)
        try:
            yield subscription
        finally:
            for key in keys:
                subscribers = self._subscribers.get(key)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._subscribers[key]

    @property
    def subscriber_count(self) -> int:
        """Open subscriptions (one subscription on several topics counts once)."""
        return len({id(s) for subs in self._subscribers.values() for s in subs})

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
