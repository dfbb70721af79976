"""Hints through the Hint button and /hint, and clicks by someone who does not own the session."""

from __future__ import annotations

from typing import Any

from bots.discord.errors import NOT_YOURS
from core.bootstrap import Services
from core.engine.view import StepView
from tests.bots.discord.conftest import QUIZ, TIMEOUT, find_component, running_bot
from tests.bots.discord.fake_discord import USER_ID, FakeDiscord
from tests.bots.discord.test_client import answer, click, send, settle, slash, start_play

AUTHORED_HINT = QUIZ["steps"][1]["hints"][0]  # "Think about `right`."
HINT_MESSAGE = f"💡 **Hint:** {AUTHORED_HINT}"
STRANGER = USER_ID + 1


async def session_of(services: Services, thread: dict[str, Any]) -> str:
    bound = await services.chat.session_in_thread("discord", thread["guild_id"], thread["id"])
    assert bound is not None
    return bound.session_id


async def owner_step(services: Services, session_id: str) -> StepView:
    owner = await services.chat.actor("discord", str(USER_ID), "ada")
    step = (await services.game.get_view(owner, session_id)).step
    assert step is not None
    return step


def in_thread(payload: dict[str, Any], thread: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "channel": thread, "channel_id": thread["id"]}


def by_stranger(payload: dict[str, Any]) -> dict[str, Any]:
    """The same interaction, made by another member of the guild."""
    payload["member"]["user"] = {**payload["member"]["user"], "id": str(STRANGER)}
    payload["member"]["user"]["username"] = "mallory"
    return payload


async def test_the_hint_button_posts_the_authored_hint_and_lowers_the_points(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        thread_id = int(thread["id"])
        session_id = await session_of(services, thread)
        await answer(fake, thread, "continue")
        before = await owner_step(services, session_id)
        assert (before.id, before.available, before.hints_left) == ("pick", 10, 2)
        posted = len(fake.channel_messages(thread_id))

        clicked = await answer(fake, thread, "hint")

        assert fake.callbacks(clicked)[0]["type"] == 6  # deferred before the database
        new = fake.channel_messages(thread_id)[posted:]
        assert [m["content"] for m in new] == [HINT_MESSAGE]
        after = await owner_step(services, session_id)
        assert (after.id, after.available, after.hints_left) == ("pick", 9, 1)
        events = await services.store.read_stream(session_id)
        hints = [e for e in events if e.type == "HintGiven"]
        assert len(hints) == 1 and hints[0].data["text"] == AUTHORED_HINT

        # The right answer now earns what is left after the hint, and the learner sees it.
        await answer(fake, thread, "answer", "0")
    embeds = [e for m in fake.channel_messages(thread_id) for e in m["embeds"]]
    assert any(e["title"] == "✅ Passed · 9/10 points" for e in embeds)


async def test_slash_hint_in_the_thread_answers_with_the_hint_and_lowers_the_points(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        session_id = await session_of(services, thread)
        await answer(fake, thread, "continue")
        followups = len(fake.followups())
        posted = len(fake.channel_messages(int(thread["id"])))

        asked = await send(fake, in_thread(slash(fake, "hint"), thread))
        await fake.wait_for(lambda: len(fake.followups()) > followups, TIMEOUT, "the hint")
        await settle(fake, 0.2)

        # Deferred privately (a refusal would stay private), the hint posted in the thread.
        callback = fake.callbacks(asked)[0]
        assert callback["type"] == 5 and callback["data"]["flags"] & 64
        new = fake.channel_messages(int(thread["id"]))[posted:]
        assert [m["content"] for m in new] == [HINT_MESSAGE]
        assert fake.followups()[-1]["flags"] & 64
        after = await owner_step(services, session_id)
        assert (after.available, after.hints_left) == (9, 1)


async def test_someone_else_clicking_your_button_is_told_it_is_not_theirs(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        thread_id = int(thread["id"])
        assert thread["type"] == 11  # public: anyone in the channel can see and click
        session_id = await session_of(services, thread)
        events = len(await services.store.read_stream(session_id))
        posted = len(fake.channel_messages(thread_id))
        followups = len(fake.followups())

        message, button = find_component(fake.channel_messages(thread_id), "continue")
        clicked = await send(fake, by_stranger(click(fake, thread, message, button)))
        await fake.wait_for(lambda: len(fake.followups()) > followups, TIMEOUT, "the notice")
        await settle(fake, 0.2)

        assert fake.callbacks(clicked)[0]["type"] == 6
        notice = fake.followups()[-1]
        assert notice["content"] == NOT_YOURS and notice["flags"] & 64
        assert len(fake.followups()) == followups + 1
        assert len(await services.store.read_stream(session_id)) == events
        assert len(fake.channel_messages(thread_id)) == posted
        assert not fake.calls("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")  # not greyed

        # The owner's button still works afterwards.
        await answer(fake, thread, "continue")
    assert fake.channel_messages(thread_id)[-1]["embeds"][-1]["title"].startswith("Step 2/5")


async def test_someone_else_cannot_take_your_hints(services: Services, fake: FakeDiscord) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        thread_id = int(thread["id"])
        session_id = await session_of(services, thread)
        await answer(fake, thread, "continue")
        events = len(await services.store.read_stream(session_id))
        posted = len(fake.channel_messages(thread_id))
        followups = len(fake.followups())

        message, button = find_component(fake.channel_messages(thread_id), "hint")
        await send(fake, by_stranger(click(fake, thread, message, button)))
        await send(fake, by_stranger(in_thread(slash(fake, "hint"), thread)))
        await fake.wait_for(lambda: len(fake.followups()) >= followups + 2, TIMEOUT, "notices")
        await settle(fake, 0.2)

        notices = fake.followups()[followups:]
        assert [n["content"] for n in notices] == [NOT_YOURS, NOT_YOURS]
        assert len(await services.store.read_stream(session_id)) == events
        assert len(fake.channel_messages(thread_id)) == posted
        step = await owner_step(services, session_id)
        assert (step.available, step.hints_left) == (10, 2)


async def test_someone_else_cannot_change_your_selection_or_open_your_answer_form(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        thread_id = int(thread["id"])
        session_id = await session_of(services, thread)
        await answer(fake, thread, "continue")
        await answer(fake, thread, "answer", "0")

        message, select = find_component(fake.channel_messages(thread_id), "toggle")
        meddled = await send(fake, by_stranger(click(fake, thread, message, select, values=["1"])))
        await fake.wait_for(lambda: fake.callbacks(meddled), TIMEOUT, "the notice")
        await settle(fake, 0.2)
        assert [c["type"] for c in fake.callbacks(meddled)] == [4]  # not 7: message unchanged
        notice = fake.callbacks(meddled)[0]["data"]
        assert notice["content"] == NOT_YOURS and notice["flags"] & 64

        # The learner's own selection is what Submit carries.
        toggled = await answer(fake, thread, "toggle", values=["0", "2"])
        assert fake.callbacks(toggled)[0]["type"] == 7
        submit = next(
            c
            for row in fake.callbacks(toggled)[0]["data"]["components"]
            for c in row["components"]
            if c.get("custom_id", "").split(":")[3:4] == ["s"]
        )
        assert submit["custom_id"].endswith(":5")  # choices 0 and 2

        # Someone else's "Answer" on a chat step opens no form.
        step_message, _ = find_component(fake.channel_messages(thread_id), "submit")
        submitted = await send(fake, click(fake, thread, step_message, submit))
        await fake.wait_for(lambda: fake.callbacks(submitted), TIMEOUT, "submit ack")
        await settle(fake, 0.2)
        await answer(fake, thread, "answer", "t")
        message, button = find_component(fake.channel_messages(thread_id), "modal")
        opened = await send(fake, by_stranger(click(fake, thread, message, button)))
        await fake.wait_for(lambda: fake.callbacks(opened), TIMEOUT, "the notice")
        assert [c["type"] for c in fake.callbacks(opened)] == [4]  # not 9: no form
        assert fake.callbacks(opened)[0]["data"]["content"] == NOT_YOURS
    step = await owner_step(services, session_id)
    assert step.id == "explain"
