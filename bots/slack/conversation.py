"""A session as a Slack thread: each learner action is one core call, then its rendering is posted.

Listeners acknowledge first and then call one of these; errors propagate to the app's single
error handler (``listeners/errors.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.common.ids import ComponentId
from bots.common.transcript_delta import entries_since
from bots.slack import render, render_home
from bots.slack.errors import STEP_CLOSED, slack_error_code
from bots.slack.poster import Poster
from bots.slack.render import SlackMessage
from core.bootstrap import Services
from core.engine.events import Answer
from core.engine.view import SessionView, UiMode
from core.errors import InvalidAnswer
from core.service.actor import Actor
from core.store.base import SessionSummary
from core.store.chat import ChatThread

log = logging.getLogger(__name__)

PLATFORM = "slack"
Reply = Callable[[SlackMessage], Awaitable[None]]


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


class Conversation:
    def __init__(self, services: Services, poster: Poster) -> None:
        self._services = services
        self._poster = poster

    @property
    def poster(self) -> Poster:
        return self._poster

    async def first_delivery(self, delivery_id: str) -> bool:
        """False for Slack's retry of an event already handled (``event_id`` seen before)."""
        return await self._services.chat.first_delivery(PLATFORM, delivery_id)

    async def actor(self, who: SlackUser) -> Actor:
        return await self._services.chat.actor(PLATFORM, who.external_id, who.name or who.user_id)

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
        actor = await self.actor(who)
        start = await self._services.chat.play(actor, challenge_id.strip())
        view = start.view
        if start.thread is not None:
            await self._poster.post_all(
                client,
                start.thread.channel_id,
                render.session_messages(view),
                thread_ts=start.thread.thread_id,
            )
            link = await self._permalink(client, start.thread)
            where = f"<{link}|its thread>" if link else "its thread"
            await reply(
                render_home.notice(f"You already have this session open; it continues in {where}.")
            )
            return
        parent_ts = await self._poster.post(
            client, channel_id, render.parent_message(view, who.user_id, resumed=start.resumed)
        )
        thread = await self._services.chat.bind_thread(
            actor,
            platform=PLATFORM,
            scope_id=who.team_id,
            thread_id=parent_ts,
            channel_id=channel_id,
            session_id=view.session_id,
        )
        await self._poster.post_all(
            client,
            thread.channel_id,
            render.session_messages(view, view.transcript),
            thread_ts=thread.thread_id,
        )

    async def hint_latest(
        self, client: AsyncWebClient, who: SlackUser, reply: Reply, thread_ts: str | None = None
    ) -> None:
        """``hint`` typed as a command: for the session of this thread, else the latest open one."""
        actor = await self.actor(who)
        thread = None
        if thread_ts:
            thread = await self._services.chat.session_in_thread(PLATFORM, who.team_id, thread_ts)
        if thread is None:
            sessions = [
                s
                for s in await self._services.game.list_sessions(actor)
                if s.status in render_home.OPEN
            ]
            for summary in sorted(sessions, key=lambda s: s.updated_at, reverse=True):
                thread = await self._services.chat.thread_for_session(summary.session_id)
                if thread is not None:
                    break
        if thread is None or thread.learner_id != actor.learner_id:
            await reply(
                render_home.notice(
                    "You have no session in progress here. Start one with `/curiouscore play <id>`."
                )
            )
            return
        before = await self._services.game.get_view(actor, thread.session_id)
        if before.step is None:
            await reply(render_home.notice(STEP_CLOSED))
            return
        after = await self._services.game.request_hint(actor, thread.session_id, before.step.id)
        await self._post_progress(client, thread, before, after)
        if not thread_ts:
            await reply(render_home.notice("Your hint is in the session's thread."))

    async def status(self, client: AsyncWebClient, who: SlackUser, reply: Reply) -> None:
        profile = await self._services.learners.profile(await self.actor(who))
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
        profile = await self._services.learners.profile(await self.actor(who))
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
        actor = await self.actor(who)
        game = self._services.game
        before = await game.get_view(actor, component.session_id)
        if before.step is None or before.step.id != component.step_id or before.status != "active":
            await reply(render_home.notice(STEP_CLOSED))
            return
        key = f"slack:{click.action_ts}"
        step_id = component.step_id
        if component.action == "continue":
            after = await game.continue_gate(
                actor, component.session_id, step_id, idempotency_key=key
            )
        elif component.action == "hint":
            after = await game.request_hint(
                actor, component.session_id, step_id, idempotency_key=key
            )
        else:
            answer = _answer(before, component, click.choices)
            after = await game.submit_answer(
                actor, component.session_id, step_id, answer, idempotency_key=key
            )
        thread = await self._services.chat.thread_for_session(component.session_id)
        if thread is None:
            thread = ChatThread(
                PLATFORM,
                who.team_id,
                click.message_ts,
                click.channel_id,
                component.session_id,
                actor.learner_id,
                "",
            )
        if after.step is None or after.step.id != step_id:
            await self._poster.update(
                client, click.channel_id, click.message_ts, render.closed_step_message(before)
            )
        await self._post_progress(client, thread, before, after)

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
        """A message in a thread: the learner's answer to a chat step; anything else is ignored."""
        thread = await self._services.chat.session_in_thread(PLATFORM, who.team_id, thread_ts)
        if thread is None:
            return
        if event_id and not await self.first_delivery(event_id):
            log.info("retried Slack delivery ignored", extra={"event_id": event_id})
            return
        actor = await self.actor(who)
        if actor.learner_id != thread.learner_id:
            return
        game = self._services.game
        before = await game.get_view(actor, thread.session_id)
        if before.step is None or before.status != "active":
            return
        if before.ui_mode is not UiMode.CHAT:
            await reply(
                render_home.notice("This step takes a button answer: use the buttons above.")
            )
            return
        after = await game.submit_answer(
            actor,
            thread.session_id,
            before.step.id,
            text,
            idempotency_key=f"slack:{event_id}" if event_id else None,
        )
        await self._post_progress(client, thread, before, after)

    # -- helpers ----------------------------------------------------------------------------------

    async def _post_progress(
        self, client: AsyncWebClient, thread: ChatThread, before: SessionView, after: SessionView
    ) -> None:
        new = entries_since(before.transcript, after.transcript)
        await self._poster.post_all(
            client,
            thread.channel_id,
            render.session_messages(after, new),
            thread_ts=thread.thread_id,
        )

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


def _answer(view: SessionView, component: ComponentId, choices: tuple[int, ...]) -> Answer:
    if view.ui_mode is UiMode.MCQ_MULTI:
        return choices
    if view.ui_mode is UiMode.TRUE_FALSE:
        return component.arg == "true"
    if not component.arg.isdigit():
        raise InvalidAnswer("that button does not belong to this step")
    return int(component.arg)
