"""A clean five-step run posts about as few public messages on Discord as on Slack: one message per
action (the answer's feedback and the next step together), the step message edited in place."""

from __future__ import annotations

from typing import Any

from bots.common.ids import ComponentId, decode, encode
from core.bootstrap import Services
from tests.bots.discord.conftest import TIMEOUT, find_component, running_bot
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.test_client import answer, click, send, settle, start_play

# Slack posts 6–7 for the same run (the opening with step 1, then one per answer).
MOST_PUBLIC_MESSAGES = 7


def public_posts(fake: FakeDiscord) -> list[Any]:
    """Messages everyone in the channel or thread sees (not private follow-ups or edits)."""
    posts = fake.calls("POST", r"/channels/\d+/messages")
    followups = [
        r for r in fake.calls("POST", r"/webhooks/\d+/[^/]+") if not (r.body.get("flags", 0) & 64)
    ]
    return [*posts, *followups]


async def test_a_clean_five_step_run_posts_one_message_per_action(
    services: Services, fake: FakeDiscord
) -> None:
    async with running_bot(services, fake):
        thread, _ = await start_play(fake)
        await settle(fake, 0.2)
        thread_id = int(thread["id"])
        await answer(fake, thread, "continue")
        await answer(fake, thread, "answer", "0")
        toggled = await answer(fake, thread, "toggle", values=["0", "2"])
        submit = next(
            c
            for row in fake.callbacks(toggled)[0]["data"]["components"]
            for c in row["components"]
            if (p := decode(c.get("custom_id", ""))) and p.action == "submit"
        )
        message, _ = find_component(fake.channel_messages(thread_id), "submit")
        submitted = await send(fake, click(fake, thread, message, submit))
        await fake.wait_for(lambda: fake.callbacks(submitted), TIMEOUT, "submit ack")
        await settle(fake, 0.2)
        await answer(fake, thread, "answer", "t")
        message, _ = find_component(fake.channel_messages(thread_id), "modal")
        parsed = decode(find_component([message], "modal")[1]["custom_id"])
        assert parsed is not None
        data = {
            "custom_id": encode(ComponentId(parsed.session_id, parsed.step_id, "answer")),
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 4, "custom_id": "answer", "value": "reused and named"}],
                }
            ],
        }
        await send(fake, fake.interaction(5, data, channel=thread, message=message))
        await fake.wait_for(
            lambda: any(
                e.get("title", "").startswith("🏆")
                for m in fake.channel_messages(thread_id)
                for e in m["embeds"]
            ),
            TIMEOUT,
            "the result",
        )
        await settle(fake, 0.2)
    posts = public_posts(fake)
    # The opening (narration and step 1), then one per answer: feedback with the next step, and
    # the last feedback with the result. Old buttons are greyed out by edits, not new posts.
    assert len(posts) == 6 <= MOST_PUBLIC_MESSAGES
    assert all(p.path == f"/channels/{thread_id}/messages" for p in posts)
