"""A session as a Slack thread: each learner action is one core call, then its rendering is posted.

Listeners acknowledge first and then call one of these; errors propagate to the app's single
error handler (``listeners/errors.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.common.controls import chat_action
from bots.common.ids import ComponentId
from bots.common.locks import DeliveryLocks
from bots.common.work import WorkTracker
from bots.slack import render, render_home
from bots.slack.errors import STEP_CLOSED, THREAD_GONE, slack_error_code
from bots.slack.mrkdwn import escape
from bots.slack.poster import DeliveryDeferred, Poster
from bots.slack.render import SlackMessage
from core.bootstrap import Services
from core.errors import SessionNotActive, SessionNotFound, StepNotCurrent
from core.service.actor import Actor
from core.service.chat import ButtonStep, ChatAction, TurnResult
from core.store.base import SessionSummary
from core.store.chat import ChatThread

log = logging.getLogger(__name__)

PLATFORM = "slack"
Reply = Callable[[SlackMessage], Awaitable[None]]
# The Web API client speaking for a thread's workspace; None when the app is no longer installed
# there (the thread is skipped). See ``bots/slack/app.py``'s ``WorkspaceClients``.
Clients = Callable[[ChatThread], Awaitable[AsyncWebClient | None]]


@dataclass(frozen=True, slots=True)
class SlackUser:
    """Who is talking: ``team_id`` scopes the user id (and threads) to one workspace."""

    team_id: str
    user_id: str
    name: str = ""

    @property
    def external_id(self) -> str:
        return f"{self.team_id}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Click:
    """A button press: what it carries, where the pressed message is, and its unique ``action_ts``."""

    component: ComponentId
    channel_id: str
    message_ts: str
    action_ts: str
    choices: tuple[int, ...] = ()
    blocks: tuple[dict[str, Any], ...] = ()


class Conversation:
    def __init__(
        self,
        services: Services,
        poster: Poster,
        *,
        work: WorkTracker | None = None,
        later_seconds: float = 30.0,
        locks: DeliveryLocks | None = None,
    ) -> None:
        self._services = services
        self._poster = poster
        self.work = work or WorkTracker()
        self._later_seconds = later_seconds
        self.locks = locks or DeliveryLocks()
        self._versions: dict[str, int] = {}
        self._grading: dict[str, str] = {}  # session → ts of the message showing "Grading…"
        self._names: dict[str, str] = {}  # Slack user → display name (users.info, once)

    @property
    def poster(self) -> Poster:
        return self._poster

    async def first_delivery(self, delivery_id: str) -> bool:
        """False for Slack's retry of an event already handled (``event_id`` seen before)."""
        return await self._services.chat.first_delivery(PLATFORM, delivery_id)

    async def actor(self, who: SlackUser, client: AsyncWebClient | None = None) -> Actor:
        """The learner behind a Slack user, provisioned under their display name (fetched once
        with ``users.info`` when the request does not carry one, e.g. mentions and replies)."""
        name = who.name or await self._display_name(client, who)
        return await self._services.chat.actor(PLATFORM, who.external_id, name)

    async def _display_name(self, client: AsyncWebClient | None, who: SlackUser) -> str:
        cached = self._names.get(who.external_id)
        if cached is not None or client is None:
            return cached or who.user_id
        name = who.user_id
        try:
            response = await client.users_info(user=who.user_id)
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            name = str(
                profile.get("display_name") or profile.get("real_name") or user.get("name") or name
            )
        except SlackApiError as error:
            # users:read not granted, or Slack down: the id will do, and we do not ask again.
            log.info("users.info failed: %s", slack_error_code(error))
        if len(self._names) > 10_000:
            self._names.clear()
        self._names[who.external_id] = name
        return name

    # -- commands ------------------------------------------------------------------------------

    async def play(
        self,
        client: AsyncWebClient,
        who: SlackUser,
        channel_id: str,
        challenge_id: str,
        reply: Reply,
    ) -> None:
        """Start (or resume) a challenge: a parent message in the channel, the session in its thread."""
        if not challenge_id:
            await reply(
                render_home.notice(
                    "Which challenge? Try `/curiouscore play <id>`; see `/curiouscore list`."
                )
            )
            return
        actor = await self.actor(who, client)
        start = await self._services.chat.play(actor, challenge_id.strip())
        view = start.view
        if start.thread is not None:
            try:
                await self._poster.post_all(
                    client,
                    start.thread.channel_id,
                    render.session_messages(view),
                    thread_ts=start.thread.thread_id,
                )
            except SlackApiError as error:
                if slack_error_code(error) not in THREAD_GONE:
                    raise
                # Archived, deleted or left: the session continues in a new thread here.
                log.info("session thread gone: %s", slack_error_code(error))
            else:
                await self.catch_up(client, view.session_id)
                link = await self._permalink(client, start.thread)
                where = f"<{link}|its thread>" if link else "its thread"
                await reply(
                    render_home.notice(
                        f"You already have this session open; it continues in {where}."
                    )
                )
                return
        if start.thread is None and not start.resumed:
            opening = render.opening_messages(view, who.user_id)
        else:
            opening = [render.parent_message(view, who.user_id, resumed=True)]
            opening += render.session_messages(view)
        parent_ts = await self._poster.post(client, channel_id, opening[0])
        binding = await self._services.chat.open_thread(
            actor,
            start,
            ChatThread(
                PLATFORM, who.team_id, parent_ts, channel_id, view.session_id, actor.learner_id, ""
            ),
        )
        await self._poster.post_all(client, channel_id, opening[1:], thread_ts=parent_ts)
        await self._services.chat.delivered(TurnResult(view, binding, (), False))
        await self.catch_up(client, view.session_id)

    async def hint_latest(
        self, client: AsyncWebClient, who: SlackUser, reply: Reply, thread_ts: str | None = None
    ) -> None:
        """``hint`` typed as a command: for the session of this thread, else the latest open one."""
        actor = await self.actor(who, client)
        thread = None
        if thread_ts:
            thread = await self._services.chat.session_in_thread(PLATFORM, who.team_id, thread_ts)
        if thread is None:
            try:  # the latest open session played in a Slack thread
                session_id = await self._services.chat.open_session(actor, platform=PLATFORM)
            except SessionNotFound:
                session_id = ""
            thread = await self._services.chat.thread_for_session(session_id)
        if thread is None or thread.learner_id != actor.learner_id:
            await reply(
                render_home.notice(
                    "You have no session in progress here. Start one with `/curiouscore play <id>`."
                )
            )
            return
        turn = await self._services.chat.act(actor, thread.session_id, ChatAction("hint"))
        await self.deliver(client, turn)
        if not thread_ts:
            await reply(render_home.notice("Your hint is in the session's thread."))

    async def abandon(
        self,
        client: AsyncWebClient,
        who: SlackUser,
        challenge_id: str,
        reply: Reply,
        thread_ts: str | None = None,
    ) -> None:
        """Give up a session from anywhere: the one in this thread, else the open session of
        ``challenge_id`` (else the latest open one); its thread is told if it still exists."""
        actor = await self.actor(who, client)
        chat = self._services.chat
        thread = None
        if thread_ts and not challenge_id:
            thread = await chat.session_in_thread(PLATFORM, who.team_id, thread_ts)
        if thread is not None and thread.learner_id == actor.learner_id:
            session_id = thread.session_id
        else:
            session_id = await chat.open_session(actor, challenge_id.strip() or None)
        turn = await chat.act(actor, session_id, ChatAction("abandon"))
        try:
            await self.deliver(client, turn)
        except SlackApiError as error:
            log.info("abandoned session's thread is gone: %s", slack_error_code(error))
        await reply(render_home.notice(f"You gave up *{escape(turn.view.title)}*."))

    async def status(self, client: AsyncWebClient, who: SlackUser, reply: Reply) -> None:
        profile = await self._services.learners.profile(await self.actor(who, client))
        links = await self._links(client, render_home.open_sessions(profile))
        await reply(render_home.status_message(profile, links))

    async def leaderboard(self, reply: Reply) -> None:
        await reply(render_home.leaderboard_message(await self._services.learners.leaderboard()))

    async def catalogue(self, reply: Reply) -> None:
        await reply(render_home.catalogue_message(await self._services.catalog.summaries()))

    async def link(self, who: SlackUser, code: str, reply: Reply) -> None:
        learner = await self._services.accounts.link(PLATFORM, who.external_id, code)
        await reply(render_home.linked_message(learner.display_name))

    async def publish_home(self, client: AsyncWebClient, who: SlackUser) -> None:
        profile = await self._services.learners.profile(await self.actor(who, client))
        links = await self._links(client, render_home.open_sessions(profile))
        leaders = await self._services.learners.leaderboard()
        await client.views_publish(
            user_id=who.user_id, view=render_home.home_view(profile, links, leaders)
        )

    # -- inside a session's thread --------------------------------------------------------------

    async def click(
        self, client: AsyncWebClient, who: SlackUser, click: Click, reply: Reply
    ) -> None:
        """A button in a step message: answer, submit the checked boxes, continue, or hint."""
        component = click.component
        action = chat_action(component, picked=click.choices)
        if action is None:
            return
        actor = await self.actor(who, client)
        try:
            turn = await self._services.chat.act(
                actor, component.session_id, action, idempotency_key=f"slack:{click.action_ts}"
            )
        except (StepNotCurrent, SessionNotActive):
            await reply(render_home.notice(STEP_CLOSED))
            return
        if turn.step_changed and click.blocks:
            # The answered step's buttons are spent (an edit: not paced with the posts).
            await self._poster.update(
                client,
                click.channel_id,
                click.message_ts,
                render.closed_message(click.blocks, render.fallback_text(turn.view)),
            )
        await self.deliver(client, turn)
        if turn.grading:
            await self.catch_up(client, component.session_id)

    async def thread_reply(
        self,
        client: AsyncWebClient,
        who: SlackUser,
        *,
        thread_ts: str,
        text: str,
        event_id: str,
        reply: Reply,
    ) -> None:
        """A message in a thread: the learner's answer to a chat or code step (core decides
        which); on a button step the learner is told to use the buttons; else ignored."""
        thread = await self._services.chat.session_in_thread(PLATFORM, who.team_id, thread_ts)
        if thread is None:
            return
        if event_id and not await self.first_delivery(event_id):
            log.info("retried Slack delivery ignored", extra={"event_id": event_id})
            return
        actor = await self.actor(who, client)
        if actor.learner_id != thread.learner_id:
            return
        try:
            turn = await self._services.chat.act(
                actor,
                thread.session_id,
                ChatAction("reply", text=text),
                idempotency_key=f"slack:{event_id}" if event_id else None,
            )
        except SessionNotActive:
            return  # talk in a finished session's thread
        except ButtonStep as error:
            await reply(render_home.notice(escape(error.message)))
            return
        await self.deliver(client, turn)
        if turn.grading:
            await self.catch_up(client, thread.session_id)

    # -- delivery: every transcript entry the learner has not seen, exactly once ----------------

    async def deliver(self, client: AsyncWebClient, turn: TurnResult) -> None:
        """Post what the turn's thread has not shown; "Grading…" is replaced by the result."""
        session_id = turn.view.session_id
        async with self.locks.hold(session_id):
            if turn.view.version < self._versions.get(session_id, 0):
                return  # a newer state of this session was delivered meanwhile
            turn = await self._services.chat.refresh(turn)
            thread = turn.thread
            if thread is None or turn.nothing_new:
                return
            messages = render.session_messages(turn.view, turn.entries)
            grading = self._grading.pop(session_id, None)
            try:
                if grading is not None and messages:
                    await self._poster.update(client, thread.channel_id, grading, messages[0])
                    messages = messages[1:]
                posted = await self._poster.post_all(
                    client, thread.channel_id, messages, thread_ts=thread.thread_id
                )
            except DeliveryDeferred:
                log.warning("Slack kept rate limiting; delivering later", extra=_ids(turn))
                self.work.spawn(self._later(client, session_id), name=f"later-{session_id}")
                return
            if turn.grading:
                self._grading[session_id] = posted[-1] if posted else grading or ""
            await self._services.chat.delivered(turn)
            self._versions[session_id] = turn.view.version

    async def catch_up(self, client: AsyncWebClient, session_id: str) -> TurnResult:
        """Grade what is pending, then deliver everything the thread has not shown."""
        turn = await self._services.chat.catch_up(session_id)
        await self.deliver(client, turn)
        return turn

    async def push(self, clients: Clients, thread: ChatThread) -> None:
        """Deliver in ``thread`` what changed without an action here (a review, a grade)."""
        client = await clients(thread)
        if client is not None:
            await self.catch_up(client, thread.session_id)

    async def catch_up_all(self, clients: Clients) -> None:
        """At start: deliver, in every unfinished session thread, what the learner missed."""
        for thread in await self._services.chat.unfinished_threads(PLATFORM):
            if self.work.closing:
                return
            try:
                client = await clients(thread)
                if client is not None:
                    await self.catch_up(client, thread.session_id)
            except SlackApiError as error:
                log.warning("catch-up failed: %s", slack_error_code(error))
            except Exception:
                log.exception("catch-up of session %s failed", thread.session_id)

    async def _later(self, client: AsyncWebClient, session_id: str) -> None:
        await asyncio.sleep(self._later_seconds)
        if not self.work.closing:
            await self.catch_up(client, session_id)

    # -- helpers ----------------------------------------------------------------------------------

    async def _permalink(self, client: AsyncWebClient, thread: ChatThread) -> str | None:
        try:
            return await self._poster.permalink(client, thread.channel_id, thread.thread_id)
        except SlackApiError as error:
            # A thread in a channel we left, or deleted: the session still works elsewhere.
            log.info("no permalink for a session thread: %s", slack_error_code(error))
            return None

    async def _links(
        self, client: AsyncWebClient, sessions: Sequence[SessionSummary]
    ) -> dict[str, str]:
        links: dict[str, str] = {}
        for summary in sessions:
            thread = await self._services.chat.thread_for_session(summary.session_id)
            if thread is None or thread.platform != PLATFORM:
                continue
            link = await self._permalink(client, thread)
            if link:
                links[summary.session_id] = link
        return links


def _ids(turn: TurnResult) -> dict[str, str]:
    return {"session_id": turn.view.session_id}
