"""Arrow-key menus: the key state machine, and a real terminal session through a pty."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from cli.menu import HINT, QUIT, ChoiceMenu, read_key


def keys(menu: ChoiceMenu, *pressed: str):
    result = None
    for key in pressed:
        result = menu.press(key)
    return result


def test_arrows_move_and_enter_picks_a_single_choice():
    assert keys(ChoiceMenu(["a", "b", "c"]), "down", "down", "enter") == 2
    assert keys(ChoiceMenu(["a", "b", "c"]), "up", "enter") == 2  # wraps around


def test_a_number_picks_at_once_in_a_single_choice():
    assert keys(ChoiceMenu(["a", "b", "c"]), "3") == 2
    assert keys(ChoiceMenu(["a", "b"]), "7") is None


def test_multi_toggles_with_space_and_numbers_and_submits_sorted():
    menu = ChoiceMenu(["a", "b", "c", "d"], multi=True)
    assert keys(menu, "2", "2") is None
    assert menu.picked == set()
    assert keys(menu, "4", "1", "down", "space") is None
    assert menu.picked == {0, 1, 3}
    assert menu.press("enter") == (0, 1, 3)


def test_multi_refuses_to_submit_nothing():
    menu = ChoiceMenu(["a", "b"], multi=True)
    assert menu.press("enter") is None
    assert "Pick at least one" in menu.render().plain


def test_hint_and_quit_keys():
    assert ChoiceMenu(["a"]).press("h") == HINT
    assert ChoiceMenu(["a"]).press("q") == QUIT


def test_read_key_names_escape_sequences():
    def reader(data: str):
        stream = iter(data)

        def read(count: int) -> str:
            return "".join(next(stream, "") for _ in range(count))

        return read

    assert read_key(reader("\x1b[A")) == "up"
    assert read_key(reader("\x1b[B")) == "down"
    assert read_key(reader("\r")) == "enter"
    assert read_key(reader(" ")) == "space"
    assert read_key(reader("\x1b")) == "escape"
    assert read_key(reader("Q")) == "q"


class Terminal:
    """A child process on a pseudo-terminal, read with a deadline."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.output = ""

    def expect(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {needle!r} in:\n{self.output[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode(errors="ignore")
                except OSError:
                    break

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        try:
            return self.process.wait(timeout=20)
        finally:
            os.close(self.master)


def test_play_with_arrow_keys_in_a_real_terminal(tmp_path: Path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tty.db'}",
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        "LINES": "40",
    }
    terminal = Terminal([sys.executable, "-m", "cli", "play", "python-functions"], env)
    try:
        terminal.expect("Press Enter to continue")
        terminal.send("\r")
        terminal.expect("↑/↓ move")
        terminal.send("\x1b[B")  # down to the second choice
        time.sleep(0.2)
        terminal.send("\x1b[A")  # and back up to the first, the right one
        time.sleep(0.2)
        terminal.send("\r")
        terminal.expect("15/15")
        terminal.expect("True")  # the true/false step is a menu too
        terminal.send("q")
        terminal.expect("pick up where you left off")
    finally:
        code = terminal.close()
    assert code == 0
