"""Use cases the chat bots share: who is talking, which thread holds which session, retries.

Discord and Slack differ only in how they render and acknowledge; everything here is the same for
both, so a session behaves identically in either.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engine.view import SessionView
from core.errors import SessionNotFound
from core.service.accounts import AccountService
from core.service.actor import Actor
from core.service.clock import Clock
from core.service.sessions import GameService
from core.store.base import Store
from core.store.chat import ChatThread

OPEN_STATUSES = ("created", "active")


@dataclass(frozen=True, slots=True)
class PlayStart:
    """The session a ``play`` command leads to; ``thread`` is set when it is being resumed."""

    view: SessionView
    resumed: bool
    thread: ChatThread | None


class ChatService:
    def __init__(
        self, *, store: Store, game: GameService, accounts: AccountService, clock: Clock
    ) -> None:
        self._store = store
        self._game = game
        self._accounts = accounts
        self._clock = clock

    async def actor(self, platform: str, external_id: str, display_name: str) -> Actor:
        """The learner behind a chat user (provisioned on first contact, or linked to the web)."""
        learner = await self._accounts.identity_for(platform, external_id, display_name)
        return Actor(learner.learner_id, learner.role)

    async def play(self, actor: Actor, challenge_id: str) -> PlayStart:
        """Resume the learner's open session of this challenge, or create and start a new one.

        A learner holds at most one open session per challenge in chat.
        """
        for summary in await self._game.list_sessions(actor):
            if summary.challenge_id == challenge_id and summary.status in OPEN_STATUSES:
                view = await self._game.get_view(actor, summary.session_id)
                if view.status == "created":
                    view = await self._game.start_session(actor, summary.session_id)
                thread = await self._store.thread_for_session(summary.session_id)
                return PlayStart(view, resumed=True, thread=thread)
        created = await self._game.create_session(actor, challenge_id)
        view = await self._game.start_session(actor, created.session_id)
        return PlayStart(view, resumed=False, thread=None)

    async def bind_thread(
        self,
        actor: Actor,
        *,
        platform: str,
        scope_id: str,
        thread_id: str,
        channel_id: str,
        session_id: str,
    ) -> ChatThread:
        """Record that a thread holds a session; returns the existing binding if there is one."""
        thread = ChatThread(
            platform=platform,
            scope_id=scope_id,
            thread_id=thread_id,
            channel_id=channel_id,
            session_id=session_id,
            learner_id=actor.learner_id,
            created_at=self._clock.now(),
        )
        if await self._store.bind_thread(thread):
            return thread
        existing = await self._store.thread_for_session(session_id)
        return existing or thread

    async def session_in_thread(
        self, platform: str, scope_id: str, thread_id: str
    ) -> ChatThread | None:
        return await self._store.session_in_thread(platform, scope_id, thread_id)

    async def thread_for_session(self, session_id: str) -> ChatThread | None:
        return await self._store.thread_for_session(session_id)

    async def require_learner(self, actor: Actor, session_id: str) -> None:
        """Raise ``SessionNotFound`` unless ``actor`` is the session's learner.

        For controls that change nothing in the session yet (a selection before Submit): only a
        session's learner acts on it, and someone else's session looks like a missing one.
        """
        thread = await self._store.thread_for_session(session_id)
        if thread is not None:
            owner = thread.learner_id
        else:
            try:
                owner = (await self._game.hydrate(session_id)).learner_id
            except SessionNotFound:
                owner = None
        if owner != actor.learner_id:
            raise SessionNotFound(f"there is no session {session_id!r}")

    async def first_delivery(self, platform: str, delivery_id: str) -> bool:
        """True the first time a platform delivery id is seen; a retried delivery gets False."""
        return await self._store.first_delivery(platform, delivery_id, self._clock.now())
