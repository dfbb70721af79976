"""Pure renderers: a core ``SessionView`` (and the transcript lines an action added) to Block Kit.

Nothing here talks to Slack; every learner- or LLM-written string goes through ``mrkdwn.escape``.
Limits respected: 50 blocks per message, 3,000 characters per section, 25 elements per actions
block, 10 options per checkbox group, 75 characters per button label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bots.common.ids import ComponentId, encode
from bots.slack.mrkdwn import chunks, clip, escape, plain, strip_fence_languages
from core.engine.state import TranscriptEntry
from core.engine.view import SessionView, StepView, UiMode

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_ACTIONS = 25
MAX_CHECKBOXES = 10
FALLBACK_LIMIT = 3000
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CHOICE_MODES = (UiMode.MCQ_SINGLE, UiMode.MCQ_MULTI, UiMode.TRUE_FALSE, UiMode.CHAT)


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One message: ``text`` is the notification fallback, ``blocks`` what Slack shows."""

    text: str
    blocks: list[Block] = field(default_factory=list)


# -- small block builders --------------------------------------------------------------------


def section(text: str) -> list[Block]:
    """One section per 3,000 characters of (already escaped) mrkdwn."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in chunks(text)
    ]


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 3000)}]}


def button(label: str, action_id: str, *, value: str = "", style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": plain(label), "emoji": True},
        "action_id": action_id,
        "value": value or action_id,
    }
    if style:
        element["style"] = style
    return element


def actions(elements: Sequence[Block]) -> list[Block]:
    """Actions blocks of at most 25 elements each."""
    return [
        {"type": "actions", "elements": list(elements[i : i + MAX_ACTIONS])}
        for i in range(0, len(elements), MAX_ACTIONS)
    ]


def markdown(text: str) -> str:
    """Challenge Markdown (escaped) as mrkdwn: ``**bold**`` → ``*bold*``, headings → bold lines."""
    converted = re.sub(r"\*\*(.+?)\*\*", r"*\1*", escape(strip_fence_languages(text)))
    return re.sub(r"(?m)^#{1,6}\s+(.+)$", r"*\1*", converted)


def points(value: float) -> str:
    return f"{value:g}"


# -- the session --------------------------------------------------------------------------------


def _cid(view: SessionView, step: StepView, action: str, arg: str = "") -> str:
    return encode(ComponentId(view.session_id, step.id, action, arg))


def step_blocks(view: SessionView, *, closed: bool = False) -> list[Block]:
    """The current step (or the result); ``closed`` drops the buttons of an answered step."""
    if view.ui_mode is UiMode.COMPLETED:
        return result_blocks(view)
    if view.ui_mode is UiMode.ABANDONED:
        return section("This session was abandoned. Start again with `/curiouscore play`.")
    step = view.step
    if step is None:
        return section("This session has not started yet.")
    blocks = section(f"*Step {step.index + 1}/{view.progress.total_steps} · {escape(step.title)}*")
    if step.body:
        blocks += section(markdown(step.body))
    if step.prompt:
        blocks += section(markdown(step.prompt))
    if step.choices and view.ui_mode is not UiMode.TRUE_FALSE:
        listed = "\n".join(
            f"*{LETTERS[i % 26]}.* {markdown(text)}" for i, text in enumerate(step.choices)
        )
        blocks += section(listed)
    if step.code is not None:
        blocks += section(f"```{_code_text(step.code.starter or ' ')}```")
        visible = [t for t in step.code.tests if not t.hidden and t.code]
        hidden = len(step.code.tests) - len(visible)
        lines = [
            f"`{escape(t.id)}` ({t.points} pts): `{_code_text(t.code or '')}`" for t in visible
        ]
        if hidden:
            lines.append(f"…and {hidden} hidden test{'s' if hidden != 1 else ''}")
        blocks.append(context(clip("\n".join(lines), 2900)))
    if closed:
        blocks.append(context("This step is closed."))
        return blocks
    blocks += _controls(view, step)
    blocks.append(context(_step_status(view, step)))
    return blocks


def _code_text(code: str) -> str:
    """Code for a Slack code block: its own characters escaped, backticks kept from closing it."""
    return clip(escape(code).replace("```", "`\u200b``"), 2800)


def _controls(view: SessionView, step: StepView) -> list[Block]:
    if step.awaiting_grade:
        return [context("Grading your answer…")]
    mode = view.ui_mode
    blocks: list[Block] = []
    if mode is UiMode.CONTINUE_GATE:
        blocks += actions([button("Continue", _cid(view, step, "continue"), style="primary")])
    elif mode is UiMode.MCQ_SINGLE:
        blocks += actions(
            [
                button(f"{LETTERS[i % 26]} · {text}", _cid(view, step, "answer", str(i)))
                for i, text in enumerate(step.choices)
            ]
        )
    elif mode is UiMode.TRUE_FALSE:
        blocks += actions(
            [
                button("True", _cid(view, step, "answer", "true")),
                button("False", _cid(view, step, "answer", "false")),
            ]
        )
    elif mode is UiMode.MCQ_MULTI:
        for group, start in enumerate(range(0, len(step.choices), MAX_CHECKBOXES)):
            action_id = _cid(view, step, "toggle", str(group))
            options = [
                {
                    "text": {
                        "type": "mrkdwn",
                        "text": clip(f"*{LETTERS[i % 26]}.* {markdown(text)}", 150),
                    },
                    "value": str(i),
                }
                for i, text in enumerate(step.choices[start : start + MAX_CHECKBOXES], start=start)
            ]
            blocks.append(
                {
                    "type": "actions",
                    "block_id": action_id,
                    "elements": [
                        {"type": "checkboxes", "action_id": action_id, "options": options}
                    ],
                }
            )
        blocks += actions([button("Submit", _cid(view, step, "submit"), style="primary")])
    elif mode is UiMode.CHAT:
        blocks.append(context("Reply in this thread with your answer."))
    elif mode is UiMode.CODE:
        blocks.append(context("Reply in this thread with your code in a ``` code block."))
    if mode in CHOICE_MODES and step.hints_left > 0 and not step.awaiting_hint:
        blocks += actions([button("Hint", _cid(view, step, "hint"))])
    return blocks


def _step_status(view: SessionView, step: StepView) -> str:
    parts = [f"worth {points(step.available)} of {step.points} points"]
    if view.ui_mode is not UiMode.CONTINUE_GATE:
        parts.append(f"{step.attempts_left} attempt{'s' if step.attempts_left != 1 else ''} left")
        parts.append(f"{step.hints_left} hint{'s' if step.hints_left != 1 else ''} left")
    parts.append(f"score {points(view.progress.score)}/{view.progress.max_score}")
    return " · ".join(parts)


def result_blocks(view: SessionView) -> list[Block]:
    result = view.result
    if result is None:
        return section(f"*{escape(view.title)}* is complete.")
    verdict = ":tada: *Passed!*" if result.passed else "*Not passed this time.*"
    lines = [
        f"{verdict} *{escape(view.title)}*",
        f"Score {points(result.score)}/{result.max_score} ({points(result.percent)}%; "
        f"{result.passing_score} needed)",
    ]
    if result.xp_granted:
        lines.append(f"+{result.xp_granted} XP")
    return section("\n".join(lines))


def entry_blocks(entry: TranscriptEntry) -> list[Block]:
    """One transcript line: narration, the learner's answer, feedback, a hint or an explanation."""
    text = escape(strip_fence_languages(entry.text))
    if entry.kind == "answer":
        return [context(f"Your answer: {clip(text, 2900)}")]
    if entry.kind == "hint":
        return section(f":bulb: *Hint:* {text}")
    if entry.kind == "explanation":
        return section(f":information_source: {text}")
    if entry.kind == "feedback":
        return _feedback_blocks(entry)
    if entry.kind == "review":
        return _review_blocks(entry)
    return section(text)


def _feedback_blocks(entry: TranscriptEntry) -> list[Block]:
    mark = ":white_check_mark:" if entry.passed else ":x:"
    score = ""
    if entry.score is not None and entry.max_points is not None:
        score = f" — {points(entry.score)}/{entry.max_points} points"
    lines = [f"{mark} *{'Correct' if entry.passed else 'Not quite'}*{score}"]
    if entry.text:
        lines.append(escape(entry.text))
    for item in entry.items:
        feedback = strip_fence_languages(item.feedback)  # a test's output: ```text … ```
        detail = f" — {escape(feedback)}" if item.feedback else ""
        lines.append(f"• `{escape(item.id)}` {points(item.points)}/{item.max_points}{detail}")
    blocks = section("\n".join(lines))
    if entry.provisional:
        blocks.append(context("Provisional grade: the grader was unavailable."))
    return blocks


def _review_blocks(entry: TranscriptEntry) -> list[Block]:
    """A teacher's review of an earlier grade: the new points, the verdict and the comment."""
    verdict = "passed" if entry.passed else "not passed"
    lines = [
        f":teacher: *Reviewed by a teacher* · `{escape(entry.step_id)}` — "
        f"{points(entry.score or 0)}/{entry.max_points or 0} points ({verdict})"
    ]
    if entry.text:
        lines.append(f"> {escape(entry.text)}".replace("\n", "\n> "))
    for item in entry.items:
        detail = f" — {escape(item.feedback)}" if item.feedback else ""
        lines.append(f"• `{escape(item.id)}` {points(item.points)}/{item.max_points}{detail}")
    return section("\n".join(lines))


def fallback_text(view: SessionView) -> str:
    if view.step is not None:
        return clip(escape(f"{view.title}: step {view.step.index + 1} · {view.step.title}"), 300)
    return clip(escape(f"{view.title}: {view.status}"), 300)


def session_messages(
    view: SessionView, new_entries: Iterable[TranscriptEntry] = ()
) -> list[SlackMessage]:
    """What to post in the thread after an action: the new lines, then the step or the result.

    Split into messages of at most 50 blocks.
    """
    blocks: list[Block] = []
    for entry in new_entries:
        blocks += entry_blocks(entry)
    blocks += step_blocks(view)
    text = fallback_text(view)
    return [
        SlackMessage(text, blocks[i : i + MAX_BLOCKS]) for i in range(0, len(blocks), MAX_BLOCKS)
    ]


def parent_message(view: SessionView, user_id: str, *, resumed: bool = False) -> SlackMessage:
    """The channel message whose thread holds the session."""
    verb = "is back at" if resumed else "started"
    total = view.progress.total_steps
    text = f"<@{user_id}> {verb} *{escape(view.title)}* ({total} steps). Play along in the thread."
    if not resumed:
        text = f"<@{user_id}> {verb} *{escape(view.title)}* ({total} steps); the rest follows in the thread."
    return SlackMessage(clip(escape(f"{view.title}: a CuriousCore session"), 300), section(text))


def opening_messages(view: SessionView, user_id: str) -> list[SlackMessage]:
    """A new session: the channel message that opens its thread carries the narration and step 1
    itself (one post, not two, against Slack's one message per second per channel); anything that
    does not fit follows in the thread."""
    header = parent_message(view, user_id)
    rest = session_messages(view, view.transcript)
    if rest and len(header.blocks) + len(rest[0].blocks) <= MAX_BLOCKS:
        return [SlackMessage(rest[0].text, header.blocks + rest[0].blocks), *rest[1:]]
    return [header, *rest]


def closed_step_message(view: SessionView) -> SlackMessage:
    """The answered step's message once its buttons are spent."""
    return SlackMessage(fallback_text(view), step_blocks(view, closed=True)[:MAX_BLOCKS])


def closed_message(blocks: Sequence[Block], text: str) -> SlackMessage:
    """A step message as Slack showed it (the click's ``message.blocks``), its controls spent."""
    kept = [b for b in blocks if b.get("type") not in ("actions", "context", "input")]
    return SlackMessage(text, [*kept, context("This step is closed.")][:MAX_BLOCKS])
