"""Playing a session in the terminal: render the view, read an answer, call the service."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.prompt import Prompt
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from cli.menu import HINT, QUIT, ask_menu, interactive
from core.bootstrap import Services
from core.engine import SessionView, UiMode
from core.engine.events import Answer
from core.engine.state import TranscriptEntry
from core.errors import DomainError
from core.service.actor import Actor
from seeds import ensure_seeded

MENU_MODES = (UiMode.MCQ_SINGLE, UiMode.MCQ_MULTI, UiMode.TRUE_FALSE)
HELP = "Commands: [bold]/hint[/bold] for a hint, [bold]/quit[/bold] to stop (you can resume later)."
STYLE = {"narration": "magenta", "hint": "yellow", "explanation": "cyan", "answer": "bold"}


class Quit(Exception):
    """The player chose to stop; the session stays resumable."""


class TerminalGame:
    def __init__(self, services: Services, console: Console) -> None:
        self._services = services
        self._console = console
        self._seen: set[tuple[str, str, str, str]] = set()
        self._menus = interactive(console)

    async def run(self, challenge_id: str | None, learner_id: str, display_name: str) -> None:
        services = self._services
        await ensure_seeded(services)
        await services.learners.ensure_learner(learner_id, display_name)
        actor = Actor(learner_id)
        if challenge_id is None:
            challenge_id = await self._choose_challenge()
        view = await self._open_session(actor, challenge_id)
        self._console.print(HELP)
        try:
            while view.ui_mode not in (UiMode.COMPLETED, UiMode.ABANDONED):
                self._show_transcript(view)
                self._show_step(view)
                view = await self._act(actor, view)
        except (Quit, EOFError, KeyboardInterrupt):
            self._console.print(
                "\nSaved. Run the same command again to pick up where you left off."
            )
            return
        self._show_transcript(view)
        self._show_result(view)
        profile = await services.learners.profile(actor)
        self._console.print(f"You have {profile.xp} XP — level {profile.level}.")

    async def _choose_challenge(self) -> str:
        summaries = await self._services.catalog.summaries()
        table = Table("#", "challenge", "difficulty", "minutes", "XP", title="Challenges")
        for number, summary in enumerate(summaries, start=1):
            table.add_row(
                str(number),
                summary.title,
                summary.difficulty,
                str(summary.estimated_minutes),
                str(summary.xp),
            )
        self._console.print(table)
        choices = [str(n) for n in range(1, len(summaries) + 1)]
        picked = Prompt.ask("Pick a challenge", choices=choices, default="1", console=self._console)
        return summaries[int(picked) - 1].id

    async def _open_session(self, actor: Actor, challenge_id: str) -> SessionView:
        game = self._services.game
        open_sessions = [
            s
            for s in await game.list_sessions(actor)
            if s.challenge_id == challenge_id and s.status in ("created", "active")
        ]
        if open_sessions:
            session_id = open_sessions[0].session_id
            view = await game.get_view(actor, session_id)
            self._console.print(
                f"Resuming [bold]{_escape(view.title)}[/bold] at step {view.progress.step_index + 1}."
            )
            if view.ui_mode is UiMode.NOT_STARTED:
                view = await game.start_session(actor, session_id)
            return view
        view = await game.create_session(actor, challenge_id)
        self._console.print(
            Panel(Text(view.title, style="bold"), subtitle=f"{view.progress.total_steps} steps")
        )
        return await game.start_session(actor, view.session_id)

    def _show_transcript(self, view: SessionView) -> None:
        for entry in view.transcript:
            key = (entry.kind, entry.step_id, entry.at, entry.text)
            if key in self._seen:
                continue
            self._seen.add(key)
            if entry.kind != "answer":
                self._show_entry(entry)

    def _show_entry(self, entry: TranscriptEntry) -> None:
        if entry.kind == "feedback":
            mark = "✔" if entry.passed else "✘"
            line = Text(
                f"{mark} {entry.score:g}/{entry.max_points} — ",
                style="green" if entry.passed else "red",
            )
            line.append(entry.text)
            if entry.provisional:
                line.append(" (provisional)", style="dim")
            self._console.print(line)
            for item in entry.items:
                self._console.print(
                    Text(f"   • {item.points:g}/{item.max_points}  {item.feedback}")
                )
            return
        label = {"narration": "Game Master", "hint": "Hint", "explanation": "Explanation"}.get(
            entry.kind, entry.kind
        )
        self._console.print(Text(f"{label}: ", style=STYLE.get(entry.kind, "")) + Text(entry.text))

    def _show_step(self, view: SessionView) -> None:
        step = view.step
        if step is None:
            return
        progress = view.progress
        header = f"Step {progress.step_index + 1}/{progress.total_steps} · score {progress.score:g}/{progress.max_score}"
        body = Markdown("\n\n".join(part for part in (step.body, step.prompt) if part))
        self._console.print(Panel(body, title=Text(step.title, style="bold"), subtitle=header))
        if step.code is not None:
            self._console.print(Text(f"Starter ({step.code.language}):", style="dim"))
            self._console.print(Syntax(step.code.starter or "", step.code.language))
            for test in step.code.tests:
                shown = "(hidden)" if test.hidden else (test.code or "")
                self._console.print(
                    Text(f"  test {test.id} ({test.points} pts): {shown}", style="dim")
                )
        if not self._menus or view.ui_mode not in MENU_MODES:
            for number, choice in enumerate(step.choices, start=1):
                self._console.print(Text(f"  {number}. ") + Text(choice))
        if step.kind != "gate":
            self._console.print(
                Text(
                    f"  {step.attempts_left} attempt(s) left · {step.hints_left} hint(s) left · worth {step.available:g}",
                    style="dim",
                )
            )

    async def _act(self, actor: Actor, view: SessionView) -> SessionView:
        step = view.step
        assert step is not None
        game = self._services.game
        if self._menus and view.ui_mode in MENU_MODES:
            return await self._act_with_menu(actor, view)
        if view.ui_mode is UiMode.CODE:
            return await self._act_with_code(actor, view)
        raw = Prompt.ask(
            _prompt_for(view.ui_mode), console=self._console, default="", show_default=False
        )
        text = raw.strip()
        if text.lower() in ("/quit", "q", "quit"):
            raise Quit
        try:
            if text.lower() in ("/hint", "h", "?"):
                return await game.request_hint(actor, view.session_id, step.id)
            if view.ui_mode is UiMode.CONTINUE_GATE:
                return await game.continue_gate(actor, view.session_id, step.id)
            answer = parse_answer(view.ui_mode, text, len(step.choices))
            return await game.submit_answer(actor, view.session_id, step.id, answer)
        except (DomainError, ValueError) as error:
            self._console.print(Text(str(error), style="red"))
            return await game.get_view(actor, view.session_id)

    async def _act_with_code(self, actor: Actor, view: SessionView) -> SessionView:
        step = view.step
        assert step is not None and step.code is not None
        game = self._services.game
        text = read_code(self._console, step.code.starter)
        if text in ("/quit", "q"):
            raise Quit
        try:
            if text == "/hint":
                return await game.request_hint(actor, view.session_id, step.id)
            return await game.submit_answer(actor, view.session_id, step.id, text)
        except DomainError as error:
            self._console.print(Text(str(error), style="red"))
            return await game.get_view(actor, view.session_id)

    async def _act_with_menu(self, actor: Actor, view: SessionView) -> SessionView:
        step = view.step
        assert step is not None
        game = self._services.game
        truth = view.ui_mode is UiMode.TRUE_FALSE
        options = ["True", "False"] if truth else list(step.choices)
        picked = ask_menu(self._console, options, multi=view.ui_mode is UiMode.MCQ_MULTI)
        if picked == QUIT:
            raise Quit
        try:
            if picked == HINT:
                return await game.request_hint(actor, view.session_id, step.id)
            answer: Answer = (picked == 0) if truth else picked
            return await game.submit_answer(actor, view.session_id, step.id, answer)
        except DomainError as error:
            self._console.print(Text(str(error), style="red"))
            return await game.get_view(actor, view.session_id)

    def _show_result(self, view: SessionView) -> None:
        result = view.result
        if result is None:
            self._console.print("Session abandoned.")
            return
        verdict = "Passed!" if result.passed else "Not passed this time."
        lines = [
            f"[bold]{verdict}[/bold]",
            f"Score {result.score:g}/{result.max_score} ({result.percent:g}%; {result.passing_score}% needed)",
            f"XP granted: {result.xp_granted}",
        ]
        self._console.print(
            Panel(
                "\n".join(lines),
                title="Challenge complete",
                style="green" if result.passed else "yellow",
            )
        )


def _prompt_for(mode: UiMode) -> str:
    return {
        UiMode.CONTINUE_GATE: "Press Enter to continue",
        UiMode.MCQ_SINGLE: "Your choice (number)",
        UiMode.MCQ_MULTI: "Your choices (numbers separated by commas)",
        UiMode.TRUE_FALSE: "True or false (t/f)",
        UiMode.CHAT: "Your answer",
    }.get(mode, ">")


def parse_answer(mode: UiMode, text: str, choice_count: int) -> Answer:
    """Turn what the player typed into the answer shape the step takes (1-based numbers)."""
    if mode is UiMode.TRUE_FALSE:
        lowered = text.lower()
        if lowered in ("t", "true", "y", "yes"):
            return True
        if lowered in ("f", "false", "n", "no"):
            return False
        raise ValueError("Type t for true or f for false.")
    if mode is UiMode.MCQ_SINGLE:
        if not text.isdigit() or not 1 <= int(text) <= choice_count:
            raise ValueError(f"Type a number from 1 to {choice_count}.")
        return int(text) - 1
    if mode is UiMode.MCQ_MULTI:
        parts = [p for p in text.replace(",", " ").split() if p]
        if not parts or not all(p.isdigit() and 1 <= int(p) <= choice_count for p in parts):
            raise ValueError(f"Type numbers from 1 to {choice_count}, separated by commas.")
        return tuple(int(p) - 1 for p in parts)
    if not text:
        raise ValueError("Write a sentence or two.")
    return text


CODE_HELP = (
    "Type your code; an empty line ends it. /edit opens $EDITOR with the starter, "
    "/hint takes a hint, /quit stops."
)


def read_code(console: Console, starter: str) -> str:
    """Multi-line code from the terminal, ended by an empty line, or written in ``$EDITOR``."""
    console.print(Text(CODE_HELP, style="dim"))
    lines: list[str] = []
    while True:
        line = console.input("... " if lines else ">>> ")
        if not lines and line.strip() in ("/hint", "/quit", "q"):
            return line.strip()
        if not lines and line.strip() == "/edit":
            return edit_in_editor(console, starter)
        if not line.strip():
            if lines:
                return "\n".join(lines)
            continue
        lines.append(line.rstrip("\n"))


def edit_in_editor(console: Console, starter: str) -> str:
    """Open ``$VISUAL``/``$EDITOR`` on a file holding ``starter``; return what was saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        console.print(Text("Set $EDITOR (e.g. export EDITOR=nano) to use /edit.", style="red"))
        return read_code(console, starter)
    with tempfile.NamedTemporaryFile("w+", suffix=".py", delete=False, encoding="utf-8") as file:
        file.write(starter)
        path = file.name
    try:
        subprocess.run([*shlex.split(editor), path], check=False)  # noqa: S603 - the user's own editor
        with open(path, encoding="utf-8") as file:
            return file.read()
    finally:
        os.unlink(path)


def _escape(text: str) -> str:
    return escape(text)
