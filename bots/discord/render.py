"""Pure renderers: core view models in, Discord messages (embeds + component specs) out.

Nothing here talks to Discord; ``components.py`` turns the specs into ``discord.ui`` objects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import discord

from bots.common.controls import selection_from_mask as selection_from_mask
from bots.common.controls import selection_mask as selection_mask
from bots.common.ids import ComponentId, encode
from bots.discord.text import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    LABEL_LIMIT,
    OPTION_LIMIT,
    TITLE_LIMIT,
    authored,
    clip,
    split_text,
    untrusted,
    untrusted_with_code,
)
from core.engine.state import TranscriptEntry
from core.engine.view import SessionView, StepView, UiMode
from core.service.catalog import ChallengeSummary
from core.service.learners import LeaderboardEntry, Profile

MAX_COMPONENTS = 25
MAX_PER_ROW = 5
MAX_ROWS = 5
MAX_CHOICE_BUTTONS = 20  # four rows of choices, one row left for Hint
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

COLOUR_STEP = discord.Colour.blurple()
COLOUR_PASS = discord.Colour.green()
COLOUR_FAIL = discord.Colour.red()
COLOUR_INFO = discord.Colour.light_grey()


@dataclass(frozen=True, slots=True)
class Button:
    custom_id: str
    label: str
    style: str = "secondary"  # a discord.ButtonStyle name
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Option:
    label: str
    value: str
    default: bool = False


@dataclass(frozen=True, slots=True)
class Select:
    custom_id: str
    placeholder: str
    options: tuple[Option, ...]
    min_values: int = 1
    max_values: int = 1


Component = Button | Select


@dataclass(frozen=True, slots=True, eq=False)
class Outgoing:
    """One Discord message: text, embeds and rows of components (a Select fills its row)."""

    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()
    rows: tuple[tuple[Component, ...], ...] = field(default=())


# -- the session -------------------------------------------------------------------------------


def progress_messages(before: SessionView | None, after: SessionView) -> list[Outgoing]:
    """What to post in the thread after an action took ``before`` to ``after``.

    The new transcript lines first (narration, answer, feedback, hints, explanations), then the
    step to play (or the result) when the step changed; a retried step only gets a reminder.
    """
    messages: list[Outgoing] = []
    fresh = new_entries(before, after)
    for entry in fresh:
        messages.extend(entry_messages(entry))
    step_changed = (
        before is None
        or before.ui_mode != after.ui_mode
        or (before.step.id if before.step else None) != (after.step.id if after.step else None)
    )
    if step_changed:
        messages.extend(session_messages(after))
    elif after.step is not None and any(e.kind == "feedback" for e in fresh):
        left = after.step.attempts_left
        messages.append(Outgoing(content=f"Try again: {left} attempt{'s' * (left != 1)} left."))
    return messages


def new_entries(before: SessionView | None, after: SessionView) -> list[TranscriptEntry]:
    """Transcript lines in ``after`` that ``before`` did not have (the transcript is a tail)."""
    seen = Counter(before.transcript if before else ())
    fresh = []
    for entry in after.transcript:
        if seen[entry] > 0:
            seen[entry] -= 1
        else:
            fresh.append(entry)
    return fresh


def session_messages(view: SessionView) -> list[Outgoing]:
    """The messages that show where the session stands: the step, the result, or a closing line."""
    if view.ui_mode is UiMode.COMPLETED:
        return [Outgoing(embeds=(result_embed(view),))]
    if view.ui_mode is UiMode.ABANDONED:
        return [Outgoing(content=f"This session of **{authored(view.title)}** was abandoned.")]
    if view.step is None:
        return [Outgoing(content="This session has not started yet.")]
    return step_messages(view)


def step_messages(view: SessionView) -> list[Outgoing]:
    """The current step as embeds (split when long) with its components on the last message."""
    step = view.step
    assert step is not None
    title = clip(f"Step {step.index + 1}/{view.progress.total_steps} · {step.title}", TITLE_LIMIT)
    chunks = split_text(_step_text(step), DESCRIPTION_LIMIT) or [""]
    messages = []
    for number, chunk in enumerate(chunks):
        embed = discord.Embed(
            title=title if number == 0 else None,
            description=chunk or None,
            colour=COLOUR_STEP,
        )
        last = number == len(chunks) - 1
        if last:
            embed.set_footer(text=_step_footer(step))
        rows = step_rows(view.session_id, step) if last else ()
        messages.append(Outgoing(embeds=(embed,), rows=rows))
    return messages


def step_rows(session_id: str, step: StepView) -> tuple[tuple[Component, ...], ...]:
    """The components that answer ``step``; every custom id carries session and step."""

    def cid(action: str, arg: str = "") -> str:
        return encode(ComponentId(session_id, step.id, action, arg))

    if step.awaiting_grade or step.awaiting_hint:
        return ()
    rows: list[tuple[Component, ...]] = []
    kind = step.kind
    if kind == "gate":
        rows.append((Button(cid("continue"), "Continue", "primary"),))
    elif kind == "mcq" and len(step.choices) <= MAX_CHOICE_BUTTONS:
        buttons = [
            Button(cid("answer", str(i)), clip(f"{LETTERS[i]}. {choice}", LABEL_LIMIT))
            for i, choice in enumerate(step.choices)
        ]
        rows.extend(_in_rows(buttons))
    elif kind == "mcq":
        rows.append((_choice_select(cid("answer"), step, "Choose one answer", many=False),))
    elif kind == "true_false":
        rows.append(
            (
                Button(cid("answer", "t"), "True", "success"),
                Button(cid("answer", "f"), "False", "danger"),
            )
        )
    elif kind == "multi":
        rows.append((_choice_select(cid("toggle"), step, "Choose every right answer", many=True),))
        rows.append((Button(cid("submit"), "Submit", "primary"),))
    elif kind == "chat":
        rows.append((Button(cid("modal"), "Answer", "primary"),))
    elif kind == "code":
        rows.append((Button(cid("modal", "code"), "Answer", "primary"),))
    if kind != "gate" and step.hints_left > 0:
        hint = Button(cid("hint"), f"Hint ({step.hints_left} left)")
        if rows and len(rows[-1]) < MAX_PER_ROW and all(isinstance(c, Button) for c in rows[-1]):
            rows[-1] = (*rows[-1], hint)
        else:
            rows.append((hint,))
    _check_limits(rows)
    return tuple(rows)


def entry_messages(entry: TranscriptEntry) -> list[Outgoing]:
    """One transcript line as thread messages."""
    text = authored(entry.text) if entry.source == "authored" else untrusted(entry.text)
    if entry.kind == "feedback":
        return [Outgoing(embeds=(feedback_embed(entry),))]
    if entry.kind == "review":
        return [Outgoing(embeds=(review_embed(entry),))]
    if entry.kind == "narration":
        return _plain("🎙️ ", text)
    if entry.kind == "hint":
        return _plain("💡 **Hint:** ", text)
    if entry.kind == "answer":
        return _plain("📝 **Answer:** ", untrusted(entry.text))
    if entry.kind == "explanation":
        return _plain("📘 ", authored(entry.text))
    return _plain("", text)


def feedback_embed(entry: TranscriptEntry) -> discord.Embed:
    """Graded feedback with the points earned on each rubric item."""
    score = f"{_points(entry.score or 0)}/{entry.max_points or 0} points"
    title = f"✅ Passed · {score}" if entry.passed else f"❌ Not yet · {score}"
    if entry.provisional:
        title += " (provisional)"
    embed = discord.Embed(
        title=clip(title, TITLE_LIMIT),
        # Never clipped: ``limits.within_limits`` splits what is too long for one embed.
        description=untrusted(entry.text) or None,
        colour=COLOUR_PASS if entry.passed else COLOUR_FAIL,
    )
    for item in entry.items:
        value = f"{_points(item.points)}/{item.max_points} points"
        if item.feedback:
            value += f" · {untrusted_with_code(item.feedback)}"
        embed.add_field(
            name=clip(untrusted(item.id), FIELD_NAME_LIMIT),
            value=clip(value, FIELD_VALUE_LIMIT),
            inline=False,
        )
    return embed


def review_embed(entry: TranscriptEntry) -> discord.Embed:
    """A teacher's review of an earlier grade: the new points, the verdict and the comment."""
    embed = feedback_embed(entry)
    verdict = "passed" if entry.passed else "not passed"
    embed.title = clip(
        f"🧑‍🏫 Reviewed by a teacher · {entry.step_id} · "
        f"{_points(entry.score or 0)}/{entry.max_points or 0} points ({verdict})",
        TITLE_LIMIT,
    )
    return embed


def result_embed(view: SessionView) -> discord.Embed:
    result = view.result
    assert result is not None
    embed = discord.Embed(
        title=clip(
            f"{'🏆 Passed' if result.passed else 'Finished'}: {view.title}",
            TITLE_LIMIT,
        ),
        colour=COLOUR_PASS if result.passed else COLOUR_FAIL,
        description=(
            f"Score **{_points(result.score)}/{result.max_score}** ({_points(result.percent)}%), "
            f"passing is {result.passing_score}%."
        ),
    )
    embed.add_field(name="XP", value=f"+{result.xp_granted}" if result.xp_granted else "0")
    return embed


def status_embed(view: SessionView) -> discord.Embed:
    progress = view.progress
    embed = discord.Embed(title=clip(view.title, TITLE_LIMIT), colour=COLOUR_INFO)
    embed.add_field(name="Status", value=view.status)
    embed.add_field(
        name="Step",
        value=f"{min(progress.step_index + 1, progress.total_steps)}/{progress.total_steps}",
    )
    embed.add_field(name="Score", value=f"{_points(progress.score)}/{progress.max_score}")
    if view.step is not None:
        embed.add_field(
            name="Now", value=clip(authored(view.step.title), FIELD_VALUE_LIMIT), inline=False
        )
    return embed


# -- the catalogue and the learners --------------------------------------------------------------


def challenges_embed(summaries: Sequence[ChallengeSummary]) -> discord.Embed:
    """The catalogue: one field per challenge (Discord allows 25)."""
    embed = discord.Embed(title="Challenges", colour=COLOUR_INFO)
    if not summaries:
        embed.description = "No challenges are published yet."
    for summary in summaries[:MAX_COMPONENTS]:
        value = (
            f"`{summary.id}` · {summary.difficulty} · ~{summary.estimated_minutes} min · "
            f"{summary.xp} XP\n{authored(summary.summary)}"
        )
        embed.add_field(
            name=clip(authored(summary.title), FIELD_NAME_LIMIT),
            value=clip(value, FIELD_VALUE_LIMIT),
            inline=False,
        )
    if len(summaries) > MAX_COMPONENTS:
        embed.set_footer(
            text=f"…and {len(summaries) - MAX_COMPONENTS} more; /play autocompletes them all."
        )
    return embed


def leaderboard_embed(entries: Sequence[LeaderboardEntry]) -> discord.Embed:
    lines = [
        f"**{e.rank}.** {untrusted(e.display_name)} · {e.xp} XP · level {e.level}" for e in entries
    ]
    return discord.Embed(
        title="Leaderboard",
        description=clip("\n".join(lines), DESCRIPTION_LIMIT) or "Nobody has earned XP yet.",
        colour=COLOUR_INFO,
    )


def profile_embed(profile: Profile) -> discord.Embed:
    embed = discord.Embed(
        title=clip(untrusted(profile.display_name), TITLE_LIMIT), colour=COLOUR_INFO
    )
    embed.add_field(name="Level", value=str(profile.level))
    embed.add_field(name="XP", value=str(profile.xp))
    embed.add_field(name="Completed", value=str(len(profile.completed)))
    open_sessions = [s for s in profile.sessions if s.status in ("created", "active")]
    if open_sessions:
        lines = "\n".join(f"`{s.challenge_id}` · {s.status}" for s in open_sessions[:10])
        embed.add_field(name="In progress", value=clip(lines, FIELD_VALUE_LIMIT), inline=False)
    return embed


def autocomplete_choices(
    summaries: Sequence[ChallengeSummary], typed: str
) -> list[tuple[str, str]]:
    """Up to 25 (name, value) pairs whose id or title contains what was typed."""
    needle = typed.casefold().strip()
    found = [
        (clip(f"{s.title} ({s.difficulty}, {s.xp} XP)", OPTION_LIMIT), s.id)
        for s in summaries
        if needle in s.id.casefold() or needle in s.title.casefold()
    ]
    return found[:MAX_COMPONENTS]


# -- helpers ---------------------------------------------------------------------------------------


def _step_text(step: StepView) -> str:
    parts = [authored(step.body)] if step.body else []
    if step.prompt:
        parts.append(f"❓ {authored(step.prompt)}")
    if step.kind in ("mcq", "multi"):
        parts.append(
            "\n".join(f"**{LETTERS[i]}.** {authored(c)}" for i, c in enumerate(step.choices))
        )
    if step.kind == "chat":
        parts.append("Press **Answer** to write your answer.")
    if step.code is not None:
        fence = "```"
        starter = (step.code.starter or "").replace(fence, "`\u200b``")
        parts.append(
            f"{fence}{'py' if step.code.language == 'python' else 'sql'}\n{starter}\n{fence}"
        )
        visible = [t for t in step.code.tests if not t.hidden and t.code]
        hidden = len(step.code.tests) - len(visible)
        lines = [f"`{t.id}` ({t.points} pts): `{_inline_code(t.code or '')}`" for t in visible]
        if hidden:
            lines.append(f"…and {hidden} hidden test{'s' * (hidden != 1)}")
        if lines:
            parts.append("\n".join(lines))
        parts.append(
            "Reply in this thread with your code in a ``` code block, or press **Answer**."
        )
    return "\n\n".join(parts)


def _inline_code(code: str) -> str:
    """Authored test code inside single backticks (which it cannot contain), on one line."""
    return clip(" ⏎ ".join(code.replace("`", "ˋ").splitlines()), 300)


def _step_footer(step: StepView) -> str:
    if step.kind == "gate":
        return "Press Continue when you are ready."
    footer = f"{_points(step.available)}/{step.points} points · {step.attempts_left} attempts left"
    if step.hints_left:
        footer += f" · {step.hints_left} hint{'s' * (step.hints_left != 1)} left"
    if step.awaiting_grade:
        footer += " · grading…"
    return footer


def _choice_select(custom_id: str, step: StepView, placeholder: str, *, many: bool) -> Select:
    if len(step.choices) > MAX_COMPONENTS:
        raise ValueError("a select menu holds at most 25 options")
    options = tuple(
        Option(clip(f"{LETTERS[i]}. {choice}", OPTION_LIMIT), str(i))
        for i, choice in enumerate(step.choices)
    )
    return Select(
        custom_id,
        placeholder,
        options,
        min_values=0 if many else 1,
        max_values=len(options) if many else 1,
    )


def _in_rows(buttons: list[Button]) -> list[tuple[Component, ...]]:
    return [tuple(buttons[i : i + MAX_PER_ROW]) for i in range(0, len(buttons), MAX_PER_ROW)]


def _check_limits(rows: Sequence[tuple[Component, ...]]) -> None:
    if len(rows) > MAX_ROWS or sum(len(row) for row in rows) > MAX_COMPONENTS:
        raise ValueError("too many components for one message")
    for row in rows:
        if len(row) > MAX_PER_ROW or (len(row) > 1 and any(isinstance(c, Select) for c in row)):
            raise ValueError("a row holds five buttons or one select menu")


def _plain(prefix: str, text: str) -> list[Outgoing]:
    return [Outgoing(content=chunk) for chunk in split_text(prefix + text, CONTENT_LIMIT)]


def _points(value: float) -> str:
    return f"{value:g}"
