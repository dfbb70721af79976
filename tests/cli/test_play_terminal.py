"""`curiouscore play` on a real terminal (a pty): Markdown rendered, t/f and h or /hint accepted,
whole points; and a terminal player stays off the leaderboard until linked to a web account."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from cli.main import app
from core.bootstrap import build_services
from core.config import Settings
from core.service.actor import Actor
from seeds import seed_challenges
from tests.cli.test_cli import all_correct_input

ROOT = Path(__file__).resolve().parents[2]
CURIOUSCORE = Path(sys.executable).parent / "curiouscore"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB012]|\r")


class Terminal:
    """The player's screen: everything the program wrote, with terminal escapes removed."""

    def __init__(self, url: str, *args: str) -> None:
        env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "110", "LINES": "40", "TERM": "xterm"}
        self.child = pexpect.spawn(
            str(CURIOUSCORE),
            ["play", *args],
            env=env,
            encoding="utf-8",
            dimensions=(40, 110),
            timeout=60,
            cwd=str(ROOT),
        )
        self.seen = ""

    def wait_for(self, text: str) -> None:
        """Read until ``text`` has appeared on the screen since the last wait; the next wait reads
        on from just after it (what arrived in the same read is not skipped)."""
        while text not in self._fresh():
            try:
                self.seen += self.child.read_nonblocking(4096, timeout=60)
            except (pexpect.EOF, pexpect.TIMEOUT):
                raise AssertionError(f"{text!r} never appeared:\n{self._fresh()}") from None
        self._mark = getattr(self, "_mark", 0) + self._fresh().index(text) + len(text)

    def _fresh(self) -> str:
        return ANSI.sub("", self.seen)[getattr(self, "_mark", 0) :]

    def screen(self) -> str:
        return ANSI.sub("", self.seen)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'play.db'}"


def test_the_terminal_accepts_t_f_h_and_slash_hint_and_renders_markdown(url: str) -> None:
    term = Terminal(url, "python-functions", "--learner", "pty-tester")
    term.wait_for("Press Enter to continue")
    term.child.send("\r")
    term.wait_for("h or /hint for a hint")  # the mcq menu
    term.child.send("h")
    term.wait_for("Hint:")
    term.wait_for("h or /hint for a hint")
    term.child.send("1")  # the right answer to parameter-or-argument
    term.wait_for("t/f or Enter picks")  # the true/false menu
    term.child.send("/hint")
    term.wait_for("Hint:")
    term.wait_for("t/f or Enter picks")
    term.child.send("f")
    term.wait_for("Correct · ")
    term.wait_for("Explanation:")
    term.wait_for("h or /hint for a hint")
    term.child.send("q")
    term.wait_for("Saved.")
    term.child.expect(pexpect.EOF)
    screen = term.screen()
    assert "**False.**" not in screen and "False. A function without return" in screen
    assert "`" not in screen  # inline code is rendered, not shown with backticks
    assert re.search(r"Correct · 9/10 points", screen), screen  # whole points after one hint


def test_an_unlinked_terminal_player_stays_off_the_leaderboard_until_linked(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")

    async def with_services(work):  # type: ignore[no-untyped-def]
        services = await build_services(Settings(database_url=url))
        try:
            return await work(services)
        finally:
            await services.close()

    async def web_account(services):  # type: ignore[no-untyped-def]
        await seed_challenges(services, [ROOT / "challenges"])
        signed = await services.accounts.register("web@example.com", "a-long-pass-42", "Web Me")
        return (await services.accounts.create_link_code(Actor(signed.account.learner_id))).code

    async def board(services):  # type: ignore[no-untyped-def]
        return [entry.display_name for entry in await services.learners.leaderboard()]

    code = asyncio.run(with_services(web_account))
    runner = CliRunner()
    played = runner.invoke(
        app,
        ["play", "python-functions", "--learner", "local-one", "--name", "Player One"],
        input=all_correct_input("python-functions"),
    )
    assert played.exit_code == 0 and "XP granted" in played.output, played.output
    assert "Player One" not in asyncio.run(with_services(board))

    bad = runner.invoke(app, ["play", "sql-joins", "--learner", "local-one", "--link", "NOPE-NOPE"])
    assert bad.exit_code == 2 and "link code is not valid" in bad.output

    linked = runner.invoke(
        app,
        ["play", "sql-joins", "--learner", "local-one", "--link", code],
        input=all_correct_input("sql-joins"),
    )
    assert "Linked: you now play as Web Me" in linked.output, linked.output
    assert asyncio.run(with_services(board)) == ["Web Me"]
