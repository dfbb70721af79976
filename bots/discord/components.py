"""Turn rendered component specs into ``discord.ui`` objects (and back, for a selection change)."""

from __future__ import annotations

import discord

from bots.common.ids import ComponentId, decode, encode
from bots.discord.render import Button, Outgoing, Select, selection_mask


def build_view(message: Outgoing) -> discord.ui.View | None:
    """A view for the message's components; its items have no callbacks (the cog routes ids)."""
    if not message.rows:
        return None
    view = discord.ui.View(timeout=None)
    for row_number, row in enumerate(message.rows):
        for component in row:
            if isinstance(component, Button):
                view.add_item(
                    discord.ui.Button(
                        custom_id=component.custom_id,
                        label=component.label,
                        style=discord.ButtonStyle[component.style],
                        disabled=component.disabled,
                        row=row_number,
                    )
                )
            elif isinstance(component, Select):
                view.add_item(
                    discord.ui.Select(
                        custom_id=component.custom_id,
                        placeholder=component.placeholder,
                        min_values=component.min_values,
                        max_values=component.max_values,
                        options=[
                            discord.SelectOption(
                                label=option.label, value=option.value, default=option.default
                            )
                            for option in component.options
                        ],
                        row=row_number,
                    )
                )
    return view


def apply_selection(view: discord.ui.View, selected: list[str]) -> discord.ui.View:
    """Mark the chosen options and put the selection into the Submit button's custom id.

    The selection then lives in the message itself: nothing to remember, and it survives restarts.
    """
    indices = sorted(int(value) for value in selected if value.isdigit())
    for item in view.children:
        if isinstance(item, discord.ui.Select):
            for option in item.options:
                option.default = option.value in selected
        elif isinstance(item, discord.ui.Button) and item.custom_id:
            parsed = decode(item.custom_id)
            if parsed is not None and parsed.action == "submit":
                item.custom_id = encode(
                    ComponentId(
                        parsed.session_id, parsed.step_id, "submit", selection_mask(indices)
                    )
                )
    return view


def disabled(view: discord.ui.View) -> discord.ui.View:
    """The same components, greyed out (a step that is closed)."""
    for item in view.children:
        if isinstance(item, discord.ui.Button | discord.ui.Select):
            item.disabled = True
    return view
