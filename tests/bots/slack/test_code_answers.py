"""A code step played in a Slack thread, end to end through the real bubblewrap sandbox: the
starter in a code block, answers as thread replies exactly as Slack delivers them (entities, a
fence without line breaks, rich-text blocks with auto-linked URLs), results per test."""

from __future__ import annotations

import json
from typing import Any

from tests.bots.code_challenge import HALF, RIGHT, publish_code_challenge
from tests.bots.slack.conftest import SlackHarness, close_harness, open_harness
from tests.bots.slack.fake_slack import TEAM, FakeSlack
from tests.waiting import until


def slack_escaped(text: str) -> str:
    """Message ``text`` as Slack sends it: ``&``, ``<``, ``>`` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def results(fake: FakeSlack) -> list[str]:
    return [
        json.dumps(c.params.get("blocks"))
        for c in fake.calls
        if c.method in ("chat.postMessage", "chat.update")
        and c.response.get("ok")
        and (
            "Correct*" in json.dumps(c.params.get("blocks"))
            or "Not quite" in json.dumps(c.params.get("blocks"))
        )
    ]


async def started(slack: SlackHarness) -> tuple[str, str]:
    await slack.command("play codey")
    await slack.fake.wait_for(lambda fake: bool(fake.of("chat.postMessage")))
    thread_ts = str(slack.fake.of("chat.postMessage")[0].response["ts"])
    bound = await until(
        lambda: slack.services.chat.session_in_thread("slack", TEAM, thread_ts),
        "the thread to be bound to its session",
        within=30,
    )
    return thread_ts, bound.session_id


async def test_a_code_step_answered_by_thread_replies_as_slack_sends_them(
    fake_slack: FakeSlack,
) -> None:
    slack = await open_harness(fake_slack)
    await publish_code_challenge(slack.services)
    try:
        thread_ts, session_id = await started(slack)
        step = json.dumps(fake_slack.of("chat.postMessage")[0].params.get("blocks"))
        assert "```def square(x):\\n    pass```" in step and "square(3) == 9" in step
        assert "square(-2)" not in step and "1 hidden test" in step

        # 1. Text only, as Slack's `text` field has it: entities, no newline after the fence.
        half = slack_escaped(f"here you go ```{HALF}``` thanks")
        await slack.reply(half, thread_ts)
        await fake_slack.wait_for(lambda fake: len(results(fake)) >= 1)
        first = results(fake_slack)[0]
        assert "Not quite* \\u2014 10/20" in first
        assert "`three` 10/10 \\u2014 Passed." in first and "```\\nsquaring 3" in first
        assert "`secret` 0/10 \\u2014 Failed. (hidden test)" in first

        # 2. Rich text, as the composer sends it: a code block, its URL auto-linked, and
        # `text` escaped (blocks are preferred: exact, unescaped).
        code = RIGHT.replace("return x * x", "return x * x  # see http://example.com")
        before, after = code.split("http://example.com")
        blocks: list[dict[str, Any]] = [
            {
                "type": "rich_text",
                "block_id": "b1",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "v2:"}]},
                    {
                        "type": "rich_text_preformatted",
                        "border": 0,
                        "elements": [
                            {"type": "text", "text": before},
                            {"type": "link", "url": "http://example.com"},
                            {"type": "text", "text": after},
                        ],
                    },
                ],
            }
        ]
        text = slack_escaped("v2:\n```") + before + "<http://example.com>" + after + "```"
        await slack.reply(text, thread_ts, blocks=blocks)
        await fake_slack.wait_for(lambda fake: len(results(fake)) >= 2)
        second = results(fake_slack)[1]
        assert ":white_check_mark: *Correct*" in second
        events = await slack.services.store.read_stream(session_id)
        submitted = [e.data["answer"] for e in events if e.type == "AnswerSubmitted"]
        assert submitted == [HALF, code]  # exactly the code the learner wrote
        graded = [e for e in events if e.type == "AnswerGraded"]
        assert [g.data["code_run"]["sandbox"] for g in graded] == ["bwrap", "bwrap"]
    finally:
        await close_harness(slack)
