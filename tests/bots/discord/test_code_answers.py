"""A code step played in a Discord thread, end to end through the real bubblewrap sandbox: the
starter in a code block, an answer as a fenced thread message, another through the Answer modal,
results per test (hidden tests pass/fail only)."""

from __future__ import annotations

import json
from typing import Any

from bots.common.ids import ComponentId, decode, encode
from core.bootstrap import Services
from tests.bots.code_challenge import HALF, RIGHT, publish_code_challenge
from tests.bots.discord.conftest import TIMEOUT, bot_options, components_of, running_bot
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_client import send, settle, slash


def feedback(fake: FakeDiscord, thread_id: int) -> list[dict[str, Any]]:
    return [
        e
        for m in fake.channel_messages(thread_id)
        for e in m["embeds"]
        if "points" in e.get("title", "") and e["title"][:1] in "✅❌"
    ]


async def test_a_code_step_answered_in_the_thread_and_through_the_modal(
    services: Services, fake: FakeDiscord
) -> None:
    await publish_code_challenge(services)
    async with running_bot(services, fake, bot_options(message_content=True)):
        await send(fake, slash(fake, "play", challenge="codey"))
        await fake.wait_for(lambda: fake.threads(), TIMEOUT, "the session thread")
        thread = fake.threads()[-1]
        thread_id = int(thread["id"])
        await fake.wait_for(
            lambda: any("```py" in json.dumps(m) for m in fake.channel_messages(thread_id)),
            TIMEOUT,
            "the step with its starter",
        )
        step = json.dumps(fake.channel_messages(thread_id))
        assert "def square(x):\\n    pass" in step and "square(3) == 9" in step
        assert "square(-2)" not in step and "1 hidden test" in step
        answer = next(
            c
            for m in fake.channel_messages(thread_id)
            for c in components_of(m)
            if (parsed := decode(c["custom_id"])) and parsed.action == "modal"
        )
        assert decode(answer["custom_id"]).arg == "code"  # type: ignore[union-attr]

        # 1. A fenced block in the thread, with prose around it and a language tag.
        message = fake.message_create(thread_id, f"Here:\n```py\n{HALF}\n```\nthanks")
        await fake.dispatch("MESSAGE_CREATE", message)
        await fake.wait_for(lambda: feedback(fake, thread_id), TIMEOUT, "the first results")
        first = feedback(fake, thread_id)[0]
        assert first["title"].startswith("❌ Not yet · 10/20")
        fields = {f["name"]: f["value"] for f in first["fields"]}
        assert "Passed." in fields["three"] and "```\nsquaring 3\n```" in fields["three"]
        assert fields["secret"].endswith("Failed. (hidden test)")  # pass/fail only

        # 2. The Answer modal: multi-line code without a fence.
        bound = await services.chat.session_in_thread("discord", thread["guild_id"], thread["id"])
        assert bound is not None
        data = {
            "custom_id": encode(ComponentId(bound.session_id, "square", "answer")),
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": RIGHT}]}
            ],
        }
        message = fake.channel_messages(thread_id)[-1]
        await send(fake, fake.interaction(5, data, channel=thread, message=message))
        await fake.wait_for(lambda: len(feedback(fake, thread_id)) >= 2, TIMEOUT, "the results")
        await settle(fake, 0.3)
    second = feedback(fake, thread_id)[1]
    assert second["title"].startswith("✅ Passed")
    assert all("Passed." in f["value"] for f in second["fields"])
    assert len(feedback(fake, thread_id)) == 2  # each result posted once
    events = await services.store.read_stream(bound.session_id)
    graded = [e for e in events if e.type == "AnswerGraded"]
    assert [g.data["code_run"]["sandbox"] for g in graded] == ["bwrap", "bwrap"]
    submitted = [e.data["answer"] for e in events if e.type == "AnswerSubmitted"]
    assert submitted == [HALF, RIGHT]  # exactly the code in the block, and in the modal
