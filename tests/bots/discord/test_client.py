"""The real discord.py client against the fake Discord: login, sync, a whole session by clicks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bots.common.ids import decode
from bots.discord.delivery import GRADING
from bots.discord.errors import STEP_CLOSED
from core.bootstrap import Services
from core.service.actor import Actor
from tests.bots.discord.conftest import (
    TIMEOUT,
    bot_options,
    find_component,
    running_bot,
    sqlite_services,
)
from tests.bots.discord.fake_discord import USER_ID, FakeDiscord
from tests.bots.slow_llm import SlowGrader, slow_grader

COMMANDS = {"challenges", "play", "hint", "status", "leaderboard", "link", "abandon"}


def slash(fake: FakeDiscord, name: str, **options: Any) -> dict[str, Any]:
    data = {
        "id": str(fake.next_id()),
        "name": name,
        "type": 1,
        "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
    }
    return fake.interaction(2, data)


def click(
    fake: FakeDiscord,
    thread: dict[str, Any],
    message: dict[str, Any],
    component: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    data = {"custom_id": component["custom_id"], "component_type": component["type"], **extra}
    return fake.interaction(3, data, channel=thread, message=message)


async def send(fake: FakeDiscord, payload: dict[str, Any]) -> int:
    await fake.dispatch("INTERACTION_CREATE", payload)
    return int(payload["id"])


async def settle(fake: FakeDiscord, quiet: float = 0.3) -> None:
    """Wait until the bot has sent nothing for ``quiet`` seconds."""
    count = -1
    while count != len(fake.requests):
        count = len(fake.requests)
        await asyncio.sleep(quiet)


async def start_play(fake: FakeDiscord) -> tuple[dict[str, Any], int]:
    before = len(fake.followups())
    interaction_id = await send(fake, slash(fake, "play", challenge="quiz"))
    await fake.wait_for(lambda: len(fake.followups()) > before, TIMEOUT, "the /play follow-up")
    thread = fake.threads()[-1]
    return thread, interaction_id


async def test_the_bot_logs_in_through_the_fake_gateway_and_syncs_its_commands(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake) as bot:
        assert fake.identified.is_set()
        assert fake.calls("GET", "/gateway/bot")
        synced = fake.calls("PUT", r"/applications/\d+/commands")
        assert synced, "the command tree was not synced"
        assert {c["name"] for c in synced[-1].body} == COMMANDS
        play = next(c for c in synced[-1].body if c["name"] == "play")
        assert play["options"][0]["autocomplete"] is True
        assert bot.user is not None and bot.user.name == "curiouscore"
    assert bot.is_closed()


async def test_play_defers_then_opens_a_thread_with_the_step(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, interaction_id = await start_play(fake)
        await settle(fake)
    callbacks = fake.callbacks(interaction_id)
    assert callbacks[0]["type"] == 5 and callbacks[0]["data"]["flags"] & 64
    order = [r.path for r in fake.requests]
    callback_at = next(i for i, p in enumerate(order) if p.endswith("/callback"))
    thread_at = next(i for i, p in enumerate(order) if p.endswith("/threads"))
    assert callback_at < thread_at
    assert thread["type"] == 11  # public by default
    messages = fake.channel_messages(int(thread["id"]))
    assert "Welcome, traveller." in messages[0]["content"]
    step = messages[-1]
    assert step["embeds"][0]["title"].startswith("Step 1/5")
    assert "@\u200beveryone" in step["embeds"][0]["description"]
    _, button = find_component(messages, "continue")
    parsed = decode(button["custom_id"])
    assert parsed is not None and parsed.step_id == "welcome"
    assert all(
        r.body.get("allowed_mentions") == {"parse": []}
        for r in fake.calls("POST", r"/channels/\d+/messages")
    )
    assert f"<#{thread['id']}>" in fake.followups()[-1]["content"]


async def answer(
    fake: FakeDiscord, thread: dict[str, Any], action: str, arg: str | None = None, **extra: Any
) -> int:
    """Click the latest component with this action; wait until the bot has finished."""
    messages = fake.channel_messages(int(thread["id"]))
    message, component = find_component(messages, action, arg)
    interaction_id = await send(fake, click(fake, thread, message, component, **extra))
    await fake.wait_for(lambda: fake.callbacks(interaction_id), TIMEOUT, f"{action} ack")
    await settle(fake, 0.2)
    return interaction_id


async def test_a_whole_challenge_is_played_through_interactions_only(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        thread_id = int(thread["id"])

        clicked = await answer(fake, thread, "continue")
        assert fake.callbacks(clicked)[0]["type"] == 6  # deferred, before any database work
        assert fake.channel_messages(thread_id)[-1]["embeds"][-1]["title"].startswith("Step 2/5")

        await answer(fake, thread, "hint")
        assert any("Hint" in m["content"] for m in fake.channel_messages(thread_id))

        await answer(fake, thread, "answer", "0")
        feedback = [m for m in fake.channel_messages(thread_id) if m["embeds"]]
        assert any(e["title"].startswith("✅ Passed") for m in feedback for e in m["embeds"])

        # multi: choosing updates the message in place (type 7); Submit carries the selection.
        toggled = await answer(fake, thread, "toggle", values=["0", "2"])
        update = fake.callbacks(toggled)[0]
        assert update["type"] == 7
        submit = next(
            c
            for row in update["data"]["components"]
            for c in row["components"]
            if (p := decode(c.get("custom_id", ""))) and p.action == "submit"
        )
        step_message, _ = find_component(fake.channel_messages(thread_id), "submit")
        submitted = await send(fake, click(fake, thread, step_message, submit))
        await fake.wait_for(lambda: fake.callbacks(submitted), TIMEOUT, "submit ack")
        await settle(fake, 0.2)
        assert fake.channel_messages(thread_id)[-1]["embeds"][-1]["title"].startswith("Step 4/5")

        await answer(fake, thread, "answer", "t")

        # chat: the Answer button opens a modal (type 9); its submission is the answer.
        opened = await answer(fake, thread, "modal")
        modal = fake.callbacks(opened)[0]
        assert modal["type"] == 9
        text_input = modal["data"]["components"][0]["components"][0]
        message, _ = find_component(fake.channel_messages(thread_id), "modal")
        data = {
            "custom_id": modal["data"]["custom_id"],
            "components": [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 4,
                            "custom_id": text_input["custom_id"],
                            "value": "Named functions can be reused @everyone",
                        }
                    ],
                }
            ],
        }
        submitted = await send(fake, fake.interaction(5, data, channel=thread, message=message))
        await fake.wait_for(
            lambda: fake.calls("PATCH", rf"/channels/{thread_id}"), TIMEOUT, "the archive"
        )
        await settle(fake, 0.2)

    texts = [m["content"] for m in fake.channel_messages(thread_id)]
    assert any("Named functions can be reused @\u200beveryone" in t for t in texts)
    embeds = [e for m in fake.channel_messages(thread_id) for e in m["embeds"]]
    chat_feedback = next(e for e in embeds if "20 points" in e.get("title", ""))
    assert {f["name"] for f in chat_feedback["fields"]} == {"reuse", "names"}
    result = embeds[-1]
    assert result["title"].startswith("🏆 Passed")
    leader = (await services.learners.leaderboard())[0]
    assert 0 < leader.xp < 100  # the hint cost a point, so not the full 100 XP
    assert {"name": "XP", "value": f"+{leader.xp}", "inline": True} in result["fields"]
    assert fake.calls("PATCH", rf"/channels/{thread_id}")[-1].body["archived"] is True


async def test_a_duplicated_interaction_appends_nothing(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        session_id = (
            await services.chat.session_in_thread("discord", thread["guild_id"], thread["id"])
        ).session_id  # type: ignore[union-attr]
        messages = fake.channel_messages(int(thread["id"]))
        message, button = find_component(messages, "continue")
        payload = click(fake, thread, message, button)
        await send(fake, payload)
        await settle(fake, 0.2)
        events = len(await services.store.read_stream(session_id))
        posted = len(fake.channel_messages(int(thread["id"])))
        followups = len(fake.followups())
        await send(fake, payload)  # Discord delivers the same interaction again
        await settle(fake, 0.3)
        assert fake.calls("POST", rf"/interactions/{payload['id']}/[^/]+/callback")[1:]
        fake.forget_responses()  # as if the repeat reached a process whose ack went through
        await send(fake, payload)
        await settle(fake, 0.3)
        assert len(await services.store.read_stream(session_id)) == events
        assert len(fake.channel_messages(int(thread["id"]))) == posted
        assert len(fake.followups()) == followups  # and no error message either


async def test_a_click_on_a_closed_step_gets_a_private_notice(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        message, button = find_component(fake.channel_messages(int(thread["id"])), "continue")
        await send(fake, click(fake, thread, message, button))
        await settle(fake, 0.2)
        followups = len(fake.followups())
        late = await send(fake, click(fake, thread, message, button))
        await fake.wait_for(lambda: len(fake.followups()) > followups, TIMEOUT, "the notice")
    notice = fake.followups()[-1]
    assert fake.callbacks(late)[0]["type"] == 6
    assert notice["content"] == STEP_CLOSED and notice["flags"] & 64


async def test_buttons_from_before_a_restart_still_work(tmp_path: Path, fake: FakeDiscord) -> None:
    path = str(tmp_path / "discord.db")
    first = await sqlite_services(path)
    try:
        async with running_bot(first, fake):
            thread, _ = await start_play(fake)
            await settle(fake, 0.2)
    finally:
        await first.close()
    message, button = find_component(fake.channel_messages(int(thread["id"])), "continue")

    second = await sqlite_services(path, publish=False)
    try:
        async with running_bot(second, fake):
            before = len(fake.channel_messages(int(thread["id"])))
            await send(fake, click(fake, thread, message, button))
            await fake.wait_for(
                lambda: len(fake.channel_messages(int(thread["id"]))) > before,
                TIMEOUT,
                "the next step after the restart",
            )
            await settle(fake, 0.2)
    finally:
        await second.close()
    assert fake.channel_messages(int(thread["id"]))[-1]["embeds"][-1]["title"].startswith(
        "Step 2/5"
    )


async def test_link_with_a_web_code_links_the_identity(
    services: Services, fake: FakeDiscord
) -> None:
    signed_in = await services.accounts.register("ada@example.com", "a sturdy passphrase", "Ada")
    web_actor = Actor(signed_in.account.learner_id, signed_in.account.role)
    code = await services.accounts.create_link_code(web_actor)
    async with running_bot(services, fake):
        interaction_id = await send(fake, slash(fake, "link", code=code.code))
        await fake.wait_for(lambda: len(fake.followups()) >= 1, TIMEOUT, "the /link reply")
    assert fake.callbacks(interaction_id)[0]["type"] == 5
    assert "Ada" in fake.followups()[-1]["content"]
    linked = await services.chat.actor("discord", "900000000000000300", "ada")
    assert linked.learner_id == signed_in.account.learner_id


async def test_play_on_a_session_in_progress_resumes_it_in_its_thread(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        await send(fake, slash(fake, "play", challenge="quiz"))
        await fake.wait_for(lambda: len(fake.followups()) >= 2, TIMEOUT, "the resume reply")
        await settle(fake, 0.2)
    assert len(fake.threads()) == 1
    assert f"<#{thread['id']}>" in fake.followups()[-1]["content"]
    assert "already" in fake.followups()[-1]["content"]


async def test_an_unknown_challenge_gets_a_friendly_private_message(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        await send(fake, slash(fake, "play", challenge="nope"))
        await fake.wait_for(lambda: len(fake.followups()) >= 1, TIMEOUT, "the error reply")
    reply = fake.followups()[-1]
    assert reply["flags"] & 64
    assert "nope" in reply["content"] and "Traceback" not in reply["content"]
    assert not fake.threads()


async def _message_to_the_chat_step(
    services: Services, fake: FakeDiscord, *, slow: SlowGrader | None = None
) -> tuple[int, str, int]:
    """Play, walk to the chat step through the service, and answer it by a thread message sent
    twice (a repeated delivery); (thread id, session id, messages in the thread before it)."""
    thread, _ = await start_play(fake)
    await settle(fake, 0.2)
    thread_id = int(thread["id"])
    actor = await services.chat.actor("discord", str(USER_ID), "ada")
    bound = await services.chat.session_in_thread("discord", thread["guild_id"], thread["id"])
    assert bound is not None
    game, session = services.game, bound.session_id
    await game.continue_gate(actor, session, "welcome")
    await game.submit_answer(actor, session, "pick", 0)
    await game.submit_answer(actor, session, "several", (0, 2))
    await game.submit_answer(actor, session, "truth", True)
    before = len(fake.channel_messages(thread_id))
    message = fake.message_create(thread_id, "Functions get reused and named")
    await fake.dispatch("MESSAGE_CREATE", message)
    await fake.dispatch("MESSAGE_CREATE", message)  # a repeated delivery
    if slow is not None:
        await fake.wait_for(
            lambda: any(m["content"] == GRADING for m in fake.channel_messages(thread_id)),
            TIMEOUT,
            "the grading notice",
        )
        slow.release.set()
    await fake.wait_for(
        lambda: any(
            e["title"].startswith("✅ Passed · 20/20")
            for m in fake.channel_messages(thread_id)[before:]
            for e in m["embeds"]
        ),
        TIMEOUT,
        "the feedback",
    )
    await settle(fake, 0.3)
    return thread_id, session, before


async def test_with_the_message_content_intent_a_thread_message_answers_a_chat_step(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake, bot_options(message_content=True)):
        thread_id, session, before = await _message_to_the_chat_step(services, fake)
    events = await services.store.read_stream(session)
    assert sum(e.type == "AnswerSubmitted" for e in events) == 4
    embeds = [e for m in fake.channel_messages(thread_id)[before:] for e in m["embeds"]]
    assert sum(e["title"].startswith("✅ Passed · 20/20") for e in embeds) == 1
    # Offline grading is instant (done with the answer): nothing to wait for, so no notice.
    assert not any(m["content"] == GRADING for m in fake.channel_messages(thread_id))


async def test_a_thread_message_graded_slowly_shows_typing_and_grading(
    services: Services, fake: FakeDiscord
) -> None:
    grader = slow_grader(services)
    async with running_bot(services, fake, bot_options(message_content=True)):
        thread_id, session, before = await _message_to_the_chat_step(services, fake, slow=grader)
    events = await services.store.read_stream(session)
    assert sum(e.type == "AnswerSubmitted" for e in events) == 4
    assert grader.calls == 1
    assert fake.calls("POST", rf"/channels/{thread_id}/typing")
    embeds = [e for m in fake.channel_messages(thread_id)[before:] for e in m["embeds"]]
    assert sum(e["title"].startswith("✅ Passed · 20/20") for e in embeds) == 1


async def test_the_acknowledgement_does_not_wait_for_slow_work(
    services: Services, fake: FakeDiscord
) -> None:
    slow_actor = services.chat.actor

    async def slow(*args: Any) -> Any:
        await asyncio.sleep(1.5)  # stands in for a slow database or LLM
        return await slow_actor(*args)

    services.chat.actor = slow  # type: ignore[method-assign]
    async with running_bot(services, fake):
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        interaction_id = await send(fake, slash(fake, "play", challenge="quiz"))
        await fake.wait_for(lambda: fake.callbacks(interaction_id), TIMEOUT, "the deferral")
        acked_after = loop.time() - sent_at
        await fake.wait_for(lambda: fake.followups(), TIMEOUT, "the follow-up")
    assert acked_after < 0.5
    assert fake.callbacks(interaction_id)[0]["type"] == 5


async def test_catalogue_autocomplete_status_and_abandon(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        listed = await send(fake, slash(fake, "challenges"))
        await fake.wait_for(lambda: fake.followups(), TIMEOUT, "the catalogue")
        catalogue = fake.followups()[-1]["embeds"][0]
        assert fake.callbacks(listed)[0]["type"] == 5
        assert catalogue["fields"][0]["name"] == "A small quiz"
        assert "100 XP" in catalogue["fields"][0]["value"]

        typed = slash(fake, "play", challenge="sma")
        typed["type"] = 4
        typed["data"]["options"][0]["focused"] = True
        completing = await send(fake, typed)
        await fake.wait_for(lambda: fake.callbacks(completing), TIMEOUT, "the suggestions")
        suggestions = fake.callbacks(completing)[0]
        assert suggestions["type"] == 8
        assert suggestions["data"]["choices"][0]["value"] == "quiz"

        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        in_thread = slash(fake, "status")
        in_thread["channel"] = thread
        in_thread["channel_id"] = thread["id"]
        await send(fake, in_thread)
        await fake.wait_for(
            lambda: any("Status" in str(f.get("embeds")) for f in fake.followups()),
            TIMEOUT,
            "the status",
        )
        quitting = slash(fake, "abandon")
        quitting["channel"] = thread
        quitting["channel_id"] = thread["id"]
        await send(fake, quitting)
        await fake.wait_for(
            lambda: fake.calls("PATCH", rf"/channels/{thread['id']}"), TIMEOUT, "the archive"
        )
    posted = fake.channel_messages(int(thread["id"]))
    assert any("abandoned" in (m.get("content") or "") for m in posted)
