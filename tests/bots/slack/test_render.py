"""Block Kit rendering is a pure function of the session view: every UI mode, the limits, escaping."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bots.common.ids import decode
from bots.common.transcript_delta import entries_since
from bots.slack import render, render_home
from bots.slack.mrkdwn import chunks, escape, from_slack, plain
from core.engine.events import ItemResult
from core.engine.state import TranscriptEntry
from core.engine.view import SessionView, UiMode
from core.service.learners import LeaderboardEntry, Profile
from core.store.base import SessionSummary
from tests.api.conftest import make_services

EVIL = "<!channel> @here <@U123> <https://evil.test|click> & <script>"


def _actions(blocks):
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _check_limits(blocks):
    assert len(blocks) <= render.MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for element in block["elements"]:
                if element["type"] == "button":
                    assert len(element["text"]["text"]) <= 75
                    assert len(element["action_id"]) <= 255
                if element["type"] == "checkboxes":
                    assert len(element["options"]) <= 10


def _text(blocks) -> str:
    return json.dumps(blocks)


@pytest.fixture
async def views() -> dict[UiMode, SessionView]:
    """A real view of every mode, from the quiz played through the core."""
    services = await make_services()
    actor = await services.chat.actor("slack", "T:U", "Ada")
    started = await services.chat.play(actor, "quiz")
    sid = started.view.session_id
    game = services.game
    seen = {started.view.ui_mode: started.view}
    seen[UiMode.MCQ_SINGLE] = await game.continue_gate(actor, sid, "welcome")
    seen[UiMode.MCQ_MULTI] = await game.submit_answer(actor, sid, "pick", 0)
    seen[UiMode.TRUE_FALSE] = await game.submit_answer(actor, sid, "several", (0, 2))
    seen[UiMode.CHAT] = await game.submit_answer(actor, sid, "truth", True)
    seen[UiMode.COMPLETED] = await game.submit_answer(actor, sid, "explain", "reuse with a name")
    other = await services.chat.play(await services.chat.actor("slack", "T:V", "Bo"), "quiz")
    seen[UiMode.ABANDONED] = await game.abandon(
        await services.chat.actor("slack", "T:V", "Bo"), other.view.session_id
    )
    await services.close()
    return seen


def test_every_ui_mode_is_covered(views):
    assert set(views) == {
        UiMode.CONTINUE_GATE,
        UiMode.MCQ_SINGLE,
        UiMode.MCQ_MULTI,
        UiMode.TRUE_FALSE,
        UiMode.CHAT,
        UiMode.COMPLETED,
        UiMode.ABANDONED,
    }


def test_a_gate_has_one_continue_button_carrying_session_and_step(views):
    view = views[UiMode.CONTINUE_GATE]
    blocks = render.step_blocks(view)
    (button,) = _actions(blocks)
    assert button["text"]["text"] == "Continue"
    assert decode(button["action_id"]).session_id == view.session_id
    assert decode(button["action_id"]).step_id == "welcome"
    _check_limits(blocks)


def test_mcq_choices_are_buttons_and_a_hint_button(views):
    blocks = render.step_blocks(views[UiMode.MCQ_SINGLE])
    ids = [decode(b["action_id"]) for b in _actions(blocks)]
    assert [(i.action, i.arg) for i in ids] == [
        ("answer", "0"),
        ("answer", "1"),
        ("answer", "2"),
        ("hint", ""),
    ]
    assert "*A.*" in _text(blocks) and "Step 2/5" in _text(blocks)


def test_multi_is_checkboxes_plus_submit(views):
    blocks = render.step_blocks(views[UiMode.MCQ_MULTI])
    elements = _actions(blocks)
    assert elements[0]["type"] == "checkboxes"
    assert [o["value"] for o in elements[0]["options"]] == ["0", "1", "2"]
    assert decode(elements[0]["action_id"]).action == "toggle"
    assert decode(elements[1]["action_id"]).action == "submit"


def test_true_false_has_two_buttons(views):
    blocks = render.step_blocks(views[UiMode.TRUE_FALSE])
    assert [b["text"]["text"] for b in _actions(blocks)] == ["True", "False", "Hint"]


def test_chat_asks_for_a_thread_reply_and_has_no_answer_buttons(views):
    blocks = render.step_blocks(views[UiMode.CHAT])
    assert "Reply in this thread" in _text(blocks)
    assert all(decode(b["action_id"]).action == "hint" for b in _actions(blocks))


def test_completed_shows_result_and_xp(views):
    text = _text(render.step_blocks(views[UiMode.COMPLETED]))
    assert "Passed" in text and "XP" in text and "Score" in text


def test_abandoned_has_no_buttons(views):
    assert not _actions(render.step_blocks(views[UiMode.ABANDONED]))


def test_feedback_shows_points_per_rubric_item():
    entry = TranscriptEntry(
        "feedback",
        "explain",
        "Good.",
        "t",
        score=10,
        max_points=20,
        passed=True,
        items=(ItemResult("reuse", 10, 10, "yes"), ItemResult("names", 0, 10, EVIL)),
    )
    text = _text(render.entry_blocks(entry))
    assert "`reuse` 10/10" in text and "`names` 0/10" in text and "10/20 points" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_a_closed_step_keeps_its_text_but_loses_its_buttons(views):
    message = render.closed_step_message(views[UiMode.MCQ_SINGLE])
    assert not _actions(message.blocks) and "closed" in _text(message.blocks)


def test_untrusted_text_is_escaped_everywhere(views):
    view = views[UiMode.MCQ_SINGLE]
    step = dataclasses.replace(view.step, title=EVIL, body=EVIL, prompt=EVIL, choices=(EVIL, "ok"))
    hostile = dataclasses.replace(view, step=step, title=EVIL)
    entries = [TranscriptEntry(kind, "pick", EVIL, "t") for kind in ("narration", "answer", "hint")]
    for message in render.session_messages(hostile, entries):
        text = _text(message.blocks)
        for raw in ("<!channel>", "<@U123>", "<https://evil.test", "<script>"):
            assert raw not in text
        assert "@here" not in text  # neutralised with a word joiner
    assert "<!channel>" not in render.parent_message(hostile, "U1").text


def test_escape_and_plain():
    assert escape("a & <b> @channel") == "a &amp; &lt;b&gt; @\u2060channel"
    assert plain("x" * 200) == "x" * 74 + "…"
    assert plain("  a\n b  ") == "a b"


def test_long_text_is_split_into_sections_of_at_most_3000_characters(views):
    view = views[UiMode.CONTINUE_GATE]
    body = "\n".join(f"line {i} " + "&" * 40 for i in range(400))  # escapes to far more than 3000
    long = dataclasses.replace(view, step=dataclasses.replace(view.step, body=body))
    messages = render.session_messages(long)
    blocks = [b for m in messages for b in m.blocks]
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) > 5
    for message in messages:
        _check_limits(message.blocks)
    joined = "".join(b["text"]["text"] for b in sections)
    assert joined.count("&amp;") == 400 * 40  # no entity cut in half


def test_many_choices_respect_25_per_actions_block_and_10_per_checkbox_group(views):
    for mode in (UiMode.MCQ_SINGLE, UiMode.MCQ_MULTI):
        view = views[mode]
        choices = tuple(f"choice {i} " + "y" * 100 for i in range(30))
        wide = dataclasses.replace(view, step=dataclasses.replace(view.step, choices=choices))
        blocks = render.step_blocks(wide)
        _check_limits(blocks)
        answers = [e for e in _actions(blocks) if decode(e["action_id"]).action in ("answer",)]
        options = [o for e in _actions(blocks) if e["type"] == "checkboxes" for o in e["options"]]
        assert len(answers) + len(options) == 30


def test_more_than_50_blocks_are_split_into_several_messages(views):
    entries = [TranscriptEntry("hint", "pick", f"hint {i}", "t") for i in range(120)]
    messages = render.session_messages(views[UiMode.MCQ_SINGLE], entries)
    assert len(messages) >= 3
    for message in messages:
        _check_limits(message.blocks)
        assert message.text


def test_chunks_never_exceed_the_limit():
    for text in ("a" * 7000, ("word " * 2000), "&amp;" * 1500, ""):
        pieces = chunks(text, 3000)
        assert all(len(p) <= 3000 for p in pieces)


def test_entries_since_aligns_a_trimmed_tail():
    a, b, c, d = (TranscriptEntry("hint", "s", x, "t") for x in "abcd")
    assert entries_since((a, b), (a, b, c)) == (c,)
    assert entries_since((a, b, c), (b, c, d)) == (d,)  # the tail lost its oldest entry
    assert entries_since((), (a,)) == (a,)
    assert entries_since((a,), (a,)) == ()


def _profile() -> Profile:
    session = SessionSummary("s1", "l", "quiz", 1, "active", 1, 5, 10.0, 50.0, None, "t", "t")
    return Profile("l", EVIL, "learner", 600, 2, (), (session,))


def test_home_view_shows_xp_level_sessions_with_links_and_leaderboard():
    leaders = [LeaderboardEntry(1, "l", EVIL, 600, 2, 1)]
    view = render_home.home_view(_profile(), {"s1": "https://x.test/p1"}, leaders)
    text = _text(view["blocks"])
    assert view["type"] == "home"
    assert "level 2" in text and "600 XP" in text and "<https://x.test/p1|open the thread>" in text
    assert "<!channel>" not in text
    assert len(view["blocks"]) <= 100


def test_catalogue_status_leaderboard_and_help_messages_respect_limits():
    for message in (
        render_home.status_message(_profile(), {}),
        render_home.leaderboard_message([]),
        render_home.help_message("dance <!here>"),
        render_home.catalogue_message([]),
    ):
        _check_limits(message.blocks)
        assert "<!here>" not in _text(message.blocks)


def test_errors_become_friendly_messages_never_internals():
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    from bots.slack.errors import NOT_IN_CHANNEL, STEP_CLOSED, UNEXPECTED, friendly_message
    from core.errors import InvalidInput, SessionNotActive, StepNotCurrent
    from core.store.base import StoreUnavailable

    def api_error(code: str) -> SlackApiError:
        response = SlackResponse(
            client=None,
            http_verb="POST",
            api_url="x",
            req_args={},
            data={"ok": False, "error": code},
            headers={},
            status_code=200,
        )
        return SlackApiError("failed", response)

    assert friendly_message(StepNotCurrent("old")) == STEP_CLOSED
    assert friendly_message(SessionNotActive("done")) == STEP_CLOSED
    assert (
        friendly_message(InvalidInput("the code <!here> is bad")) == "The code &lt;!here&gt; is bad"
    )
    assert friendly_message(api_error("not_in_channel")) == NOT_IN_CHANNEL
    assert friendly_message(api_error("invalid_auth")) == UNEXPECTED
    assert "database" in friendly_message(StoreUnavailable("postgres://secret@db down"))
    assert friendly_message(RuntimeError("Traceback: secret")) == UNEXPECTED


def test_slack_text_is_decoded_once_on_the_way_in():
    assert from_slack("if x &lt; 0 &amp; y &gt; 1") == "if x < 0 & y > 1"
    assert from_slack("a &amp;lt; b") == "a &lt; b"  # what the learner typed, literally
    assert from_slack("see <https://docs.python.org|docs.python.org>") == "see docs.python.org"
    assert from_slack("see <https://a.test/x|the docs>") == "see the docs (https://a.test/x)"
    assert from_slack("<mailto:a@b.test|a@b.test>") == "a@b.test"
    assert from_slack("hi <@U123>") == "hi <@U123>"


def test_learner_code_is_escaped_exactly_once_on_the_way_out():
    answer = TranscriptEntry("answer", "s", from_slack("if x &lt; 0 &amp; y"), "t")
    shown = render.entry_blocks(answer)[0]["elements"][0]["text"]
    assert shown == "Your answer: if x &lt; 0 &amp; y"  # Slack displays `if x < 0 & y`


def test_code_fences_lose_their_language_line():
    body = "Look:\n```python\nprint(1 < 2)\n```\nand ``` inline ```"
    text = render.markdown(body)
    assert "python" not in text
    assert "```\nprint(1 &lt; 2)\n```" in text
    feedback = TranscriptEntry("hint", "s", "Try:\n```py\nx = 1\n```", "t")
    assert "py\n" not in _text(render.entry_blocks(feedback))
