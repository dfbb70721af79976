"""Arrow-key menus for choice steps when the terminal is interactive.

The key handling is a small pure state machine (:class:`ChoiceMenu`), so it is tested without a
terminal; :func:`read_key` and :func:`ask_menu` are the thin terminal part around it.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.text import Text

HINT = "hint"
QUIT = "quit"
MenuResult = int | tuple[int, ...] | str


@dataclass
class ChoiceMenu:
    """↑/↓ move, Enter picks (multi: submits), number keys pick (multi: toggle), space toggles,
    t/f pick True/False on a true/false step, h, ? or /hint asks for a hint, q or /quit quits."""

    options: list[str]
    multi: bool = False
    truth: bool = False
    cursor: int = 0
    picked: set[int] = field(default_factory=set)
    message: str = ""

    def press(self, key: str) -> MenuResult | None:
        """Apply one key; return the result once the player has decided, else None."""
        self.message = ""
        if key in ("up", "k"):
            self.cursor = (self.cursor - 1) % len(self.options)
        elif key in ("down", "j", "tab"):
            self.cursor = (self.cursor + 1) % len(self.options)
        elif key.isdigit() and 1 <= int(key) <= len(self.options):
            index = int(key) - 1
            self.cursor = index
            if not self.multi:
                return index
            self.picked ^= {index}
        elif key == "space" and self.multi:
            self.picked ^= {self.cursor}
        elif key == "enter":
            if not self.multi:
                return self.cursor
            if not self.picked:
                self.message = "Pick at least one choice (space or its number), then Enter."
                return None
            return tuple(sorted(self.picked))
        elif self.truth and key in ("t", "f", "y", "n"):
            return 0 if key in ("t", "y") else 1
        elif key in ("h", "?"):
            return HINT
        elif key in ("q", "escape"):
            return QUIT
        elif key == "/":
            self.message = "/hint or /quit: type h for a hint, q to quit."
        return None

    def render(self) -> Text:
        text = Text()
        for index, option in enumerate(self.options):
            pointer = "❯ " if index == self.cursor else "  "
            box = ("[x] " if index in self.picked else "[ ] ") if self.multi else ""
            style = "bold cyan" if index == self.cursor else ""
            text.append(f"{pointer}{index + 1}. {box}", style=style)
            text.append(option + "\n", style=style)
        keys = "space/number toggles, Enter submits" if self.multi else "Enter or a number picks"
        if self.truth:
            keys = "t/f or Enter picks"
        text.append(f"↑/↓ move · {keys} · h or /hint for a hint · q quit", style="dim")
        if self.message:
            text.append("\n" + self.message, style="red")
        return text


_ESCAPES = {"[A": "up", "[B": "down", "OA": "up", "OB": "down"}


def read_key(read: Callable[[int], str]) -> str:
    """Read one key press through ``read`` and name it."""
    char = read(1)
    if char == "\x1b":
        rest = read(2)
        return _ESCAPES.get(rest, "escape")
    if char in ("\r", "\n"):
        return "enter"
    if char == " ":
        return "space"
    if char == "\t":
        return "tab"
    if char == "\x03":
        raise KeyboardInterrupt
    if char == "\x04":
        raise EOFError
    return char.lower()


def interactive(console: Console) -> bool:
    """Arrow-key menus only on a real terminal; pipes and tests get line input."""
    return console.is_terminal and sys.stdin.isatty() and os.name == "posix"


def ask_menu(
    console: Console, options: list[str], *, multi: bool, truth: bool = False
) -> MenuResult:
    """Show the menu in place and return the player's decision."""
    import termios
    import tty

    menu = ChoiceMenu(options, multi=multi, truth=truth)
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    def read(count: int) -> str:
        # After an Esc, wait only briefly for the rest of an arrow key's sequence.
        if count > 1 and not select.select([fd], [], [], 0.05)[0]:
            return ""
        return os.read(fd, count).decode(errors="ignore")

    try:
        tty.setcbreak(fd)
        with Live(menu.render(), console=console, auto_refresh=False, transient=False) as live:
            while True:
                result = menu.press(read_key(read))
                live.update(menu.render(), refresh=True)
                if result is not None:
                    return result
    finally:
        # Drop keys typed past the decision (the "int" of "/hint") so the next prompt starts clean.
        termios.tcflush(fd, termios.TCIFLUSH)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
