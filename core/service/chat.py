"""Use cases the chat bots share: who is talking, which thread holds which session, retries.

Discord and Slack differ only in how they render and acknowledge; everything here is the same for
both, so a session behaves identically in either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.engine.events import Answer
from core.engine.state import TranscriptEntry
from core.engine.view import SessionView, StepView, UiMode
from core.errors import InvalidAnswer, SessionNotActive, SessionNotFound, StepNotCurrent
from core.service.accounts import AccountService
from core.service.actor import Actor
from core.service.chat_code import code_from_chat
from core.service.clock import Clock
from core.service.sessions import GameService
from core.service.single_flight import SharedLock, pending_key
from core.store.base import Store
from core.store.chat import FINISHED, ChatThread
from core.store.projections import Checkpoint

OPEN_STATUSES = ("created", "active")
ACTIONS = ("continue", "answer", "reply", "hint", "abandon")
TYPED_KINDS = ("chat", "code")  # steps answered by typing; the others by a control


class ButtonStep(InvalidAnswer):
    """A message typed in a thread whose current step takes a button (or menu) answer."""

    def __init__(self) -> None:
        super().__init__("This step takes a button answer: use the buttons above.")


@dataclass(frozen=True, slots=True)
class ChatAction:
    """One learner action in a chat, platform-neutral.

    ``choice`` is what a choice control carries (an index; ``t``/``f`` or ``true``/``false`` on a
    true/false step), ``picked`` a multi-choice selection, ``text`` a written answer. ``reply`` is
    a message typed in the session's thread: the answer when the current step takes typed text
    (a chat or code step), else refused with :class:`ButtonStep`.
    """

    kind: str
    step_id: str = ""
    choice: str = ""
    picked: tuple[int, ...] = ()
    text: str | None = None


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What a thread must show now: the entries it has not delivered, then (when ``step_changed``)
    the current step or the result; ``grading`` says an answer is waiting for its grade."""

    view: SessionView
    thread: ChatThread | None
    entries: tuple[TranscriptEntry, ...]
    step_changed: bool

    @property
    def grading(self) -> bool:
        return self.view.step is not None and self.view.step.awaiting_grade

    @property
    def shown(self) -> str:
        return shown_marker(self.view)

    @property
    def nothing_new(self) -> bool:
        return not self.entries and not self.step_changed


def shown_marker(view: SessionView) -> str:
    """What a thread shows for ``view``: its current step, or the end of the session."""
    if view.ui_mode in (UiMode.COMPLETED, UiMode.ABANDONED):
        return FINISHED
    return view.step.id if view.step is not None else ""


@dataclass(frozen=True, slots=True)
class Pushes:
    """Threads whose session changed in the event log after ``position``'s predecessor: what a
    bot must look at though none of its own actions caused it (a teacher's review, a grade
    appended by another process). ``more``: the log has further events, read again at once."""

    threads: tuple[ChatThread, ...]
    position: int
    more: bool


def push_checkpoint(platform: str) -> str:
    """The projection checkpoint that remembers how far a platform's bot followed the log."""
    return f"chat-pushes:{platform}"


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
        self._gradings: SharedLock | None = None

    def share_gradings(self, lock: SharedLock) -> None:
        """Across processes (Redis), one settling of each pending answer at a time: a process
        that finds another one grading waits for it, then reads the recorded grade."""
        self._gradings = lock

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

    async def open_session(
        self, actor: Actor, challenge_id: str | None = None, *, platform: str | None = None
    ) -> str:
        """The learner's open session of ``challenge_id`` (or, without one, the latest open
        session; with ``platform``, the latest played in a thread there): what ``abandon``,
        ``restart`` and ``hint`` act on when used outside the session's thread."""
        open_ones = [
            s
            for s in await self._game.list_sessions(actor)
            if s.status in OPEN_STATUSES and (not challenge_id or s.challenge_id == challenge_id)
        ]
        if platform is not None:
            threads = [await self._store.thread_for_session(s.session_id) for s in open_ones]
            open_ones = [
                s for s, t in zip(open_ones, threads, strict=True) if t and t.platform == platform
            ]
        if not open_ones:
            what = f"of {challenge_id!r} " if challenge_id else ""
            raise SessionNotFound(f"you have no session {what}in progress")
        return max(open_ones, key=lambda s: s.updated_at).session_id

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

    async def open_thread(self, actor: Actor, start: PlayStart, thread: ChatThread) -> ChatThread:
        """The session of ``start`` continues in the new ``thread``: its first thread, or one that
        replaces a thread that is gone (moved there, keeping what the learner was already shown).
        Returns the binding now in force."""
        thread = replace(thread, created_at=thread.created_at or self._clock.now())
        if start.thread is not None:
            await self._store.rebind_thread(thread)
            return await self._store.thread_for_session(thread.session_id) or thread
        return await self.bind_thread(
            actor,
            platform=thread.platform,
            scope_id=thread.scope_id,
            thread_id=thread.thread_id,
            channel_id=thread.channel_id,
            session_id=thread.session_id,
        )

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

    # -- one chat turn, and delivering what a thread has not shown -------------------------------

    async def act(
        self,
        actor: Actor,
        session_id: str,
        action: ChatAction,
        *,
        idempotency_key: str | None = None,
    ) -> TurnResult:
        """Apply one learner action and return what the session's thread must show next.

        A written answer graded by an LLM, or code run against the step's tests, is recorded and
        returned awaiting its grade (the adapter shows "Grading…"); :meth:`catch_up` then grades
        it and returns the feedback. An instant grade (the offline provider) is recorded with the
        answer, so the turn carries it.
        """
        game, key = self._game, idempotency_key
        if action.kind not in ACTIONS:
            raise InvalidAnswer(f"unknown action {action.kind!r}")
        if action.kind == "abandon":
            view = await game.abandon(actor, session_id, idempotency_key=key)
        else:
            step = _current_step(await game.get_view(actor, session_id), action.step_id)
            if action.kind == "reply" and step.kind not in TYPED_KINDS:
                raise ButtonStep()
            if action.kind == "continue":
                view = await game.continue_gate(actor, session_id, step.id, idempotency_key=key)
            elif action.kind == "hint":
                view = await game.request_hint(actor, session_id, step.id, idempotency_key=key)
            else:
                view = await game.submit_answer(
                    actor,
                    session_id,
                    step.id,
                    answer_for(step, action),
                    idempotency_key=key,
                    # Graded by an LLM or run in the sandbox: recorded now, "Grading…" shown,
                    # and the result delivered by catch_up.
                    settle=step.kind not in TYPED_KINDS,
                )
        return await self._turn(view)

    async def catch_up(self, session_id: str) -> TurnResult:
        """Finish any pending LLM work of the session and return what its thread has not shown."""
        thread = await self._store.thread_for_session(session_id)
        state = await self._game.hydrate(session_id)
        learner = thread.learner_id if thread is not None else state.learner_id
        key = pending_key(state)
        name = ":".join(map(str, key)) if key is not None else ""
        token = await self._gradings.acquire(name) if self._gradings and name else None
        try:
            view = await self._game.get_view(Actor(learner), session_id)  # settles pending work
        finally:
            if self._gradings is not None and name:
                await self._gradings.release(name, token)
        return await self._turn(view, thread)

    async def refresh(self, turn: TurnResult) -> TurnResult:
        """``turn`` against what its thread shows now (another delivery may have run since)."""
        return await self._turn(turn.view)

    async def delivered(self, turn: TurnResult) -> None:
        """Record that the turn's entries and step are now shown in its thread."""
        await self._store.record_shown(turn.view.session_id, turn.view.transcript_seq, turn.shown)

    async def unfinished_threads(self, platform: str) -> list[ChatThread]:
        """Threads whose session has not shown its end: to catch up on after a restart."""
        return await self._store.unfinished_threads(platform)

    async def schedule_archive(self, session_id: str, after_seconds: float) -> None:
        """Archive the session's thread ``after_seconds`` from now (kept in the database, so a
        restart or another bot process still does it)."""
        due = datetime.fromisoformat(self._clock.now()) + timedelta(seconds=after_seconds)
        await self._store.schedule_archive(session_id, due.isoformat(timespec="milliseconds"))

    async def due_archives(self, platform: str) -> list[ChatThread]:
        """The platform's threads whose archive time has come."""
        return await self._store.due_archives(platform, self._clock.now())

    async def archive_done(self, session_id: str) -> None:
        await self._store.archive_done(session_id)

    async def _turn(self, view: SessionView, thread: ChatThread | None = None) -> TurnResult:
        thread = thread or await self._store.thread_for_session(view.session_id)
        delivered, shown = (thread.delivered_seq, thread.shown) if thread else (0, "")
        entries = tuple(e for e in view.transcript if e.seq > delivered)
        return TurnResult(view, thread, entries, shown_marker(view) != shown)

    # -- pushes: what changed without an action of the bot ------------------------------------

    async def pushes(self, platform: str, *, limit: int = 500) -> Pushes:
        """The platform's threads whose session has events past the bot's saved position in the
        global log (``read_all``; gap-free, see docs/event-log.md).

        The position lives in a projection checkpoint, so a review made while the bot was down is
        found at its next start. The first time ever, the bot starts at the log's end (threads
        older than that are the start-up catch-up's business). Call :meth:`followed` once the
        threads are delivered: a crash in between only delivers them again, and delivery itself
        is idempotent (the per-thread cursor).
        """
        name = push_checkpoint(platform)
        checkpoint = await self._store.load_checkpoint(name)
        if checkpoint is None:
            position = 0
            while batch := await self._store.read_all(position, 1000):
                position = batch[-1].position
            await self.followed(platform, position)
            return Pushes((), position, more=False)
        events = await self._store.read_all(checkpoint.position, limit)
        threads = []
        for session_id in dict.fromkeys(e.stream_id for e in events):
            thread = await self._store.thread_for_session(session_id)
            if thread is not None and thread.platform == platform:
                threads.append(thread)
        position = events[-1].position if events else checkpoint.position
        return Pushes(tuple(threads), position, more=len(events) >= limit)

    async def followed(self, platform: str, position: int) -> None:
        """Record that the platform's bot has delivered what the log holds up to ``position``."""
        await self._store.save_checkpoint(
            Checkpoint(push_checkpoint(platform), position, {}, self._clock.now())
        )

    async def first_delivery(self, platform: str, delivery_id: str) -> bool:
        """True the first time a platform delivery id is seen; a retried delivery gets False."""
        return await self._store.first_delivery(platform, delivery_id, self._clock.now())


def _current_step(view: SessionView, step_id: str) -> StepView:
    """The step an action names, if it is the current step of an active session."""
    if view.status != "active" or view.step is None:
        raise SessionNotActive("this session is over")
    if step_id and view.step.id != step_id:
        raise StepNotCurrent("that step is closed")
    return view.step


def answer_for(step: StepView, action: ChatAction) -> Answer:
    """The answer a chat action carries, in the shape the step's kind takes (the engine then
    checks it: range, length, emptiness)."""
    if step.kind == "true_false":
        if action.choice in ("t", "true"):
            return True
        if action.choice in ("f", "false"):
            return False
        raise InvalidAnswer("choose true or false")
    if step.kind == "multi":
        return action.picked
    if step.kind == "mcq":
        if not action.choice.isdigit():
            raise InvalidAnswer("choose one of the answers")
        return int(action.choice)
    if step.kind == "chat":
        if action.text is None or not action.text.strip():
            raise InvalidAnswer("write an answer first")
        return action.text
    if step.kind == "code":
        # The code is the message's first ``` block (else the whole message, e.g. a modal).
        code = code_from_chat(action.text or "")
        if not code.strip():
            raise InvalidAnswer("send your code in a ``` code block")
        return code
    raise InvalidAnswer("this step takes no answer; press Continue")
