"""What a chat control means: one decoding of component ids into core's ``ChatAction``.

Both bots use it, so the same button means the same thing on Discord and Slack (a true/false
button carries ``t``/``f``; older ``true``/``false`` buttons still work).
"""

from __future__ import annotations

from collections.abc import Sequence

from bots.common.ids import ComponentId
from core.service.chat import ChatAction

ACTION_OF = {"continue": "continue", "hint": "hint", "answer": "answer", "submit": "answer"}


def selection_mask(indices: Sequence[int]) -> str:
    """A multi-choice selection packed into a component id argument (hex bit mask)."""
    mask = 0
    for index in indices:
        mask |= 1 << index
    return f"{mask:x}" if mask else ""


def selection_from_mask(mask: str) -> tuple[int, ...]:
    try:
        value = int(mask, 16) if mask else 0
    except ValueError:
        return ()
    return tuple(i for i in range(value.bit_length()) if value >> i & 1)


def chat_action(
    component: ComponentId, *, picked: Sequence[int] = (), text: str | None = None
) -> ChatAction | None:
    """The learner action a control stands for (None for controls that act on nothing yet)."""
    kind = ACTION_OF.get(component.action)
    if kind is None:
        return None
    if component.action == "submit" and component.arg:
        picked = selection_from_mask(component.arg)
    return ChatAction(
        kind,
        component.step_id,
        choice=component.arg if component.action == "answer" else "",
        picked=tuple(sorted(set(picked))),
        text=text,
    )
