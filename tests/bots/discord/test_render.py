"""The pure renderers: every UI mode, every Discord limit, escaping. No client involved."""

from __future__ import annotations

import uuid
from dataclasses import replace

import discord
import pytest

from bots.common.ids import decode
from bots.discord.components import apply_selection, build_view, disabled
from bots.discord.render import (
    Button,
    Outgoing,
    Select,
    autocomplete_choices,
    challenges_embed,
    entry_messages,
    feedback_embed,
    progress_messages,
    selection_from_mask,
    selection_mask,
    session_messages,
    step_messages,
)
from bots.discord.text import split_text
from core.bootstrap import Services
from core.engine.events import ItemResult
from core.engine.state import TranscriptEntry
from core.engine.view import SessionView, UiMode
from core.service.catalog import ChallengeSummary

SESSION = str(uuid.UUID(int=7))


async def views_of_every_mode(services: Services) -> dict[str, SessionView]:
    """Real views from the real game: one per step of the quiz, and the result."""
    actor = await services.chat.actor("discord", "1", "Ada")
    game = services.game
    view = (await services.chat.play(actor, "quiz")).view
    views = {"gate": view}
    view = await game.continue_gate(actor, view.session_id, "welcome")
    views["mcq"] = view
    view = await game.submit_answer(actor, view.session_id, "pick", 0)
    views["multi"] = view
    view = await game.submit_answer(actor, view.session_id, "several", (0, 2))
    views["true_false"] = view
    view = await game.submit_answer(actor, view.session_id, "truth", True)
    views["chat"] = view
    view = await game.submit_answer(actor, view.session_id, "explain", "reuse named code")
    views["completed"] = view
    return views


def rows_of(messages: list[Outgoing]) -> tuple[tuple[Button | Select, ...], ...]:
    return messages[-1].rows


def parsed(component: Button | Select) -> tuple[str, str, str]:
    decoded = decode(component.custom_id)
    assert decoded is not None
    return decoded.step_id, decoded.action, decoded.arg


async def test_every_ui_mode_renders_its_components(services: Services) -> None:
    views = await views_of_every_mode(services)

    gate = rows_of(step_messages(views["gate"]))
    assert [[parsed(c) for c in row] for row in gate] == [[("welcome", "continue", "")]]

    mcq = rows_of(step_messages(views["mcq"]))
    assert [parsed(c) for c in mcq[0]] == [
        ("pick", "answer", "0"),
        ("pick", "answer", "1"),
        ("pick", "answer", "2"),
        ("pick", "hint", ""),
    ]
    assert [c.label for c in mcq[0]][:3] == ["A. right", "B. wrong", "C. also wrong"]

    multi = rows_of(step_messages(views["multi"]))
    select = multi[0][0]
    assert isinstance(select, Select) and parsed(select) == ("several", "toggle", "")
    assert (select.min_values, select.max_values) == (0, 3)
    assert parsed(multi[1][0]) == ("several", "submit", "")

    true_false = rows_of(step_messages(views["true_false"]))
    assert [parsed(c) for c in true_false[0]][:2] == [
        ("truth", "answer", "t"),
        ("truth", "answer", "f"),
    ]

    chat = rows_of(step_messages(views["chat"]))
    assert [parsed(c) for c in chat[0]] == [("explain", "modal", ""), ("explain", "hint", "")]

    done = session_messages(views["completed"])
    assert not done[0].rows and done[0].embeds[0].title.startswith("🏆 Passed")
    xp = {f.name: f.value for f in done[0].embeds[0].fields}["XP"]
    assert xp == "+100"

    abandoned = replace(views["chat"], ui_mode=UiMode.ABANDONED, step=None, status="abandoned")
    assert "abandoned" in (session_messages(abandoned)[0].content or "")


async def test_the_step_embed_shows_title_prompt_choices_and_points(services: Services) -> None:
    views = await views_of_every_mode(services)
    embed = step_messages(views["mcq"])[-1].embeds[0]
    assert embed.title == "Step 2/5 · Pick"
    assert "❓ Which is right?" in (embed.description or "")
    assert "**A.** right" in (embed.description or "")
    assert embed.footer.text == "10/10 points · 2 attempts left · 2 hints left"


async def test_a_step_waiting_for_its_grade_offers_no_buttons(services: Services) -> None:
    views = await views_of_every_mode(services)
    step = views["chat"].step
    assert step is not None
    waiting = replace(views["chat"], step=replace(step, awaiting_grade=True))
    assert rows_of(step_messages(waiting)) == ()


async def test_many_choices_respect_the_component_limits(services: Services) -> None:
    views = await views_of_every_mode(services)
    step = views["mcq"].step
    assert step is not None
    for count in (5, 19, 20, 21, 25):
        choices = tuple(f"choice {i} " + "x" * 120 for i in range(count))
        view = replace(views["mcq"], step=replace(step, choices=choices))
        rows = rows_of(step_messages(view))
        assert len(rows) <= 5
        assert sum(len(row) for row in rows) <= 25
        for row in rows:
            assert len(row) <= 5
            assert not (len(row) > 1 and any(isinstance(c, Select) for c in row))
            for component in row:
                assert len(component.custom_id) <= 100
                if isinstance(component, Button):
                    assert len(component.label) <= 80
                else:
                    assert len(component.options) <= 25
                    assert all(len(o.label) <= 100 for o in component.options)
        if count > 20:
            assert isinstance(rows[0][0], Select)
        build_view(step_messages(view)[-1])  # discord.py accepts it


async def test_ids_fit_with_the_longest_step_id(services: Services) -> None:
    views = await views_of_every_mode(services)
    step = views["multi"].step
    assert step is not None
    long_step = replace(step, id="s" * 64)
    view = replace(views["multi"], session_id=SESSION, step=long_step)
    for row in rows_of(step_messages(view)):
        for component in row:
            assert len(component.custom_id) <= 100
            assert decode(component.custom_id) is not None
    assert selection_from_mask(selection_mask(range(25))) == tuple(range(25))


async def test_a_long_step_is_split_into_embeds_of_at_most_4096(services: Services) -> None:
    views = await views_of_every_mode(services)
    step = views["gate"].step
    assert step is not None
    paragraph = "word " * 150 + "\n\n"
    body = paragraph * 20 + "```python\n" + "x = 1\n" * 900 + "```\n" + paragraph * 5
    view = replace(views["gate"], step=replace(step, body=body, title="T" * 400))
    messages = step_messages(view)
    assert len(messages) > 2
    for message in messages:
        embed = message.embeds[0]
        assert len(embed.description or "") <= 4096
        assert len(embed) <= 6000
        assert (embed.description or "").count("```") % 2 == 0
    assert len(messages[0].embeds[0].title or "") <= 256
    assert all(not m.rows for m in messages[:-1]) and messages[-1].rows


def test_split_text_cuts_at_clean_boundaries() -> None:
    text = ("alpha beta gamma " * 40 + "\n\n") * 10
    chunks = split_text(text, 2000)
    assert all(len(c) <= 2000 for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())
    assert all(not c.endswith(("alph", "bet", "gam")) for c in chunks)
    unbroken = "y" * 5000
    assert [len(c) for c in split_text(unbroken, 2000)] == [1996, 1996, 1008]
    assert split_text("", 2000) == []


def test_split_text_reopens_an_open_code_fence() -> None:
    code = "```python\n" + "print('hello world')\n" * 300 + "```"
    chunks = split_text(code, 2000)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk) <= 2000
        assert chunk.count("```") == 2
    assert chunks[1].startswith("```python\n")


def test_untrusted_text_is_escaped_and_cannot_ping() -> None:
    feedback = TranscriptEntry(
        kind="feedback",
        step_id="explain",
        text="**Great** @everyone <@123456789012345678> _ok_",
        at="t",
        source="llm:fake",
        score=7.5,
        max_points=20,
        passed=True,
        items=(ItemResult("reuse", 7.5, 10, "Said `reuse` @here"),),
    )
    embed = feedback_embed(feedback)
    assert embed.title == "✅ Passed · 7.5/20 points"
    assert "\\*\\*Great\\*\\*" in (embed.description or "")
    assert "@\u200beveryone" in (embed.description or "")
    assert "<@123456789012345678>" not in (embed.description or "")
    assert embed.fields[0].name == "reuse"
    assert embed.fields[0].value.startswith("7.5/10 points")
    assert "@\u200bhere" in (embed.fields[0].value or "")

    answer = TranscriptEntry("answer", "explain", "*me* @everyone", "t")
    assert entry_messages(answer)[0].content == "📝 **Answer:** \\*me\\* @\u200beveryone"
    llm = TranscriptEntry("narration", "welcome", "**hi**", "t", source="llm:fake")
    own = TranscriptEntry("narration", "welcome", "**hi**", "t", source="authored")
    assert "\\*\\*hi" in (entry_messages(llm)[0].content or "")
    assert "**hi**" in (entry_messages(own)[0].content or "")


def test_feedback_keeps_within_embed_limits() -> None:
    items = tuple(ItemResult(f"item-{i}" + "n" * 300, 1, 1, "f" * 2000) for i in range(30))
    entry = TranscriptEntry(
        "feedback", "s", "x" * 9000, "t", score=1, max_points=2, passed=False, items=items
    )
    from bots.discord.limits import within_limits
    from tests.bots.discord.fake_discord import oversized

    embed = feedback_embed(entry)
    assert all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in embed.fields)
    messages = within_limits([Outgoing(embeds=(embed,))])
    assert sum(len(e.fields) for m in messages for e in m.embeds) == 30  # none dropped
    for message in messages:
        assert oversized({"embeds": [e.to_dict() for e in message.embeds]}) == ""


async def test_progress_posts_new_lines_then_the_next_step(services: Services) -> None:
    views = await views_of_every_mode(services)
    messages = progress_messages(views["mcq"], views["multi"])
    assert messages[0].content == "📝 **Answer:** right"
    assert messages[1].embeds[0].title.startswith("✅ Passed")
    assert messages[-1].embeds[0].title == "Step 3/5 · Several"


async def test_a_failed_attempt_with_attempts_left_asks_to_try_again(services: Services) -> None:
    actor = await services.chat.actor("discord", "2", "Bo")
    game = services.game
    view = (await services.chat.play(actor, "quiz")).view
    before = await game.continue_gate(actor, view.session_id, "welcome")
    after = await game.submit_answer(actor, view.session_id, "pick", 1)
    messages = progress_messages(before, after)
    assert messages[1].embeds[0].title.startswith("❌ Not yet")
    assert messages[-1].content == "Try again: 1 attempt left."
    assert progress_messages(after, after) == []


def test_the_catalogue_and_autocomplete_stay_within_25() -> None:
    summaries = [
        ChallengeSummary(
            f"c{i}", 1, f"Challenge {i}", "sum", "easy", (), 5, 50, 70, 3, 30, ("mcq",)
        )
        for i in range(40)
    ]
    embed = challenges_embed(summaries)
    assert len(embed.fields) == 25 and "15 more" in (embed.footer.text or "")
    assert "easy" in embed.fields[0].value and "50 XP" in embed.fields[0].value
    assert len(autocomplete_choices(summaries, "")) == 25
    assert autocomplete_choices(summaries, "challenge 39") == [
        ("Challenge 39 (easy, 50 XP)", "c39")
    ]


async def test_choosing_in_the_multi_menu_moves_the_selection_into_submit(
    services: Services,
) -> None:
    views = await views_of_every_mode(services)
    view = build_view(step_messages(views["multi"])[-1])
    assert view is not None
    apply_selection(view, ["2", "0"])
    select = next(i for i in view.children if isinstance(i, discord.ui.Select))
    submit = next(i for i in view.children if isinstance(i, discord.ui.Button))
    assert [o.default for o in select.options] == [True, False, True]
    decoded = decode(submit.custom_id or "")
    assert decoded is not None and selection_from_mask(decoded.arg) == (0, 2)
    assert all(item.disabled for item in disabled(view).children)  # type: ignore[attr-defined]


def test_a_message_without_components_has_no_view() -> None:
    assert build_view(Outgoing(content="hi")) is None


@pytest.mark.parametrize("limit", [0, 100])
def test_split_text_refuses_tiny_limits(limit: int) -> None:
    with pytest.raises(ValueError, match="too small"):
        split_text("x", limit)


def long_feedback(items: int = 10, length: int = 1000) -> TranscriptEntry:
    return TranscriptEntry(
        "feedback",
        "explain",
        "Overall: " + "good [point](https://evil.test) " * 150,
        "t",
        source="llm",
        score=10,
        max_points=100,
        passed=False,
        items=tuple(
            ItemResult(
                f"item-{i}", 5, 10, f"[x](https://a.test) [y](https://b.test) {'w' * length}"
            )
            for i in range(items)
        ),
    )


def test_feedback_over_discords_6000_characters_is_split_and_nothing_is_lost():
    from bots.discord.limits import within_limits
    from tests.bots.discord.fake_discord import oversized

    entry = long_feedback()
    messages = within_limits(entry_messages(entry))
    assert len(messages) > 1
    for message in messages:
        body = {"content": message.content, "embeds": [e.to_dict() for e in message.embeds]}
        assert oversized(body) == ""
    fields = [f for m in messages for e in m.embeds for f in e.fields]
    assert [f.name for f in fields] == [f"item-{i}" for i in range(10)]
    assert messages[0].embeds[0].title and messages[0].embeds[0].title.startswith("❌ Not yet")


def test_more_than_25_rubric_items_are_all_shown():
    from bots.discord.limits import within_limits

    messages = within_limits(entry_messages(long_feedback(items=30, length=10)))
    assert sum(len(e.fields) for m in messages for e in m.embeds) == 30


def test_every_masked_link_in_learner_and_llm_text_is_escaped():
    from bots.discord.text import untrusted

    text = untrusted("[a](https://x.test) and [b](https://y.test)\n\\\\[c](https://z.test)")
    import re

    live = re.compile(r"(?<!\\)(?:\\\\)*\[[^\]]*(?<!\\)\]\(")
    assert not live.search(text), text
    embeds = [e for m in entry_messages(long_feedback(items=2, length=10)) for e in m.embeds]
    shown = " ".join(
        [embeds[0].description or ""] + [f.value or "" for e in embeds for f in e.fields]
    )
    assert not live.search(shown)


def test_one_action_posts_one_message_when_the_limits_allow():
    from bots.discord.limits import combined

    step = discord.Embed(title="Step 2/5", description="Pick")
    feedback = discord.Embed(title="✅ Passed")
    button = Button("cc:s:pick:a:0", "A")
    messages = [
        Outgoing(content="📝 **Answer:** right"),
        Outgoing(embeds=(feedback,)),
        Outgoing(embeds=(step,), rows=((button,),)),
    ]
    [one] = combined(messages)
    assert one.content == "📝 **Answer:** right"
    assert [e.title for e in one.embeds] == ["✅ Passed", "Step 2/5"]
    assert one.rows == ((button,),)
    # Text never moves above an embed it followed, and a notice kept apart stays alone.
    split = combined([Outgoing(embeds=(feedback,)), Outgoing(content="Try again")])
    assert len(split) == 2
    alone = combined([Outgoing(content="a"), Outgoing(content="⏳")], keep_apart="⏳")
    assert len(alone) == 2
    big = [Outgoing(embeds=(discord.Embed(description="x" * 4000),)) for _ in range(2)]
    assert len(combined(big)) == 2  # 8,000 characters would exceed 6,000
