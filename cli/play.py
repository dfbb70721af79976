"""Playing a session in the terminal: render the view, read an answer, call the service."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.prompt import Prompt
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from cli.menu import HINT, QUIT, ask_menu, interactive
from core.bootstrap import Services
from core.engine import SessionView, UiMode
from core.engine.events import Answer
from core.engine.scoring import round_half_up
from core.engine.state import TranscriptEntry
from core.engine.view import FeedbackView
from core.errors import DomainError
from core.service.actor import Actor
from core.service.learners import LOCAL_PLATFORM
from seeds import ensure_seeded

HINT_WORDS = ("/hint", "hint", "h", "?", "/h")
QUIT_WORDS = ("/quit", "quit", "q", "/q")
MENU_MODES = (UiMode.MCQ_SINGLE, UiMode.MCQ_MULTI, UiMode.TRUE_FALSE)
HELP = (
    "Commands: [bold]/hint[/bold] (or h) for a hint, [bold]/quit[/bold] (or q) to stop; you can "
    "resume later."
)
STYLE = {"narration": "magenta", "hint": "yellow", "explanation": "cyan", "answer": "bold"}


class Quit(Exception):
    """The player chose to stop; the session stays resumable."""


class TerminalGame:
    def __init__(self, services: Services, console: Console) -> None:
        self._services = services
        self._console = console
        self._seen: set[tuple[str, str, str, str]] = set()
        self._menus = interactive(console)
        self._feedback: dict[tuple[str, str], FeedbackView] = {}

    async def run(
        self,
        challenge_id: str | None,
        local_user: str,
        display_name: str,
        link_code: str | None = None,
    ) -> None:
        services = self._services
        await ensure_seeded(services)
        if link_code:
            # Like /link in the bots: from now on this terminal plays as the web account.
            linked = await services.accounts.link(LOCAL_PLATFORM, local_user, link_code)
            self._console.print(
                f"Linked: you now play as [bold]{_escape(linked.display_name)}[/bold]."
            )
        learner = await services.accounts.identity_for(LOCAL_PLATFORM, local_user, display_name)
        actor = Actor(learner.learner_id)
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
        self._feedback = {(f.step_id, f.attempt_at): f for f in view.feedback}
        for entry in view.transcript:
            key = (entry.kind, entry.step_id, entry.at, entry.text)
            if key in self._seen:
                continue
            self._seen.add(key)
            if entry.kind != "answer":
                self._show_entry(entry)

    def _show_entry(self, entry: TranscriptEntry) -> None:
        if entry.kind == "feedback":
            feedback = self._feedback.get((entry.step_id, entry.at))
            outcome = feedback.outcome if feedback else ("correct" if entry.passed else "wrong")
            mark, label, style = OUTCOMES[outcome]
            shown = feedback.score_shown if feedback else round_half_up(entry.score or 0)
            line = Text(f"{mark} {label} · {shown}/{entry.max_points} points", style=style)
            if entry.provisional:
                line.append(" (provisional)", style="dim")
            self._console.print(line)
            options = [o for o in feedback.options if o.verdict] if feedback else []
            if options:
                for option in options:
                    icon, what = OPTION_MARKS[option.verdict]
                    self._console.print(
                        Text(f"   {icon} ") + Text(option.text) + Text(f"  ({what})", style="dim")
                    )
                    if option.feedback:
                        self._console.print(_markdown(option.feedback, indent=5))
            else:
                self._console.print(_markdown(entry.text))
            for item in entry.items:
                self._console.print(Text(f"   • {_whole(item.points)}/{item.max_points} {item.id}"))
                if item.feedback:
                    self._console.print(_markdown(item.feedback, indent=5))
            if feedback and feedback.hint_deduction_shown:
                self._console.print(
                    Text(
                        f"   answer {feedback.earned_shown}/{feedback.max_points} · hints "
                        f"−{feedback.hint_deduction_shown} → {feedback.score_shown} points",
                        style="dim",
                    )
                )
            return
        label = {"narration": "Game Master", "hint": "Hint", "explanation": "Explanation"}.get(
            entry.kind, entry.kind
        )
        self._console.print(Text(f"{label}:", style=STYLE.get(entry.kind, "")))
        self._console.print(_markdown(entry.text, indent=2))

    def _show_step(self, view: SessionView) -> None:
        step = view.step
        if step is None:
            return
        progress = view.progress
        header = f"Step {progress.step_index + 1}/{progress.total_steps} · score {progress.score_shown}/{progress.max_score}"
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
                self._console.print(Text(f"  {number}. ") + Text(_plain_inline(choice)))
        if step.kind != "gate":
            self._console.print(
                Text(
                    f"  {step.attempts_left} attempt(s) left · {step.hints_left} hint(s) left · worth {step.available_shown} of {step.points} points",
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
        if text.lower() in QUIT_WORDS:
            raise Quit
        try:
            if text.lower() in HINT_WORDS:
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
        options = ["True", "False"] if truth else [_plain_inline(c) for c in step.choices]
        picked = ask_menu(
            self._console, options, multi=view.ui_mode is UiMode.MCQ_MULTI, truth=truth
        )
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
            f"Score {result.score_shown}/{result.max_score} ({result.percent_shown}%; {result.passing_score}% needed)",
            f"XP granted: {result.xp_granted}",
        ]
        self._console.print(
            Panel(
                "\n".join(lines),
                title="Challenge complete",
                style="green" if result.passed else "yellow",
            )
        )
        table = Table("step", "points", "attempts", "hints")
        for row in result.steps:
            if row.points:
                deduction = (
                    f" (hints −{row.hint_deduction_shown})" if row.hint_deduction_shown else ""
                )
                table.add_row(
                    escape(row.title),
                    f"{row.score_shown}/{row.points}{deduction}",
                    str(row.attempts),
                    str(row.hints),
                )
        if table.row_count:
            self._console.print(table)
        upcoming = result.next_challenge
        if upcoming is not None:
            self._console.print(
                Text.assemble(
                    "Next challenge: ",
                    (upcoming.title, "bold"),
                    f" ({upcoming.difficulty}, about {upcoming.estimated_minutes} min): ",
                    (f"curiouscore play {upcoming.id}", "cyan"),
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


OUTCOMES = {
    "correct": ("✔", "Correct", "green"),
    "partly": ("◐", "Partly right", "yellow"),
    "wrong": ("✘", "Not yet", "red"),
}
OPTION_MARKS = {
    "right": ("✔", "you picked this: right"),
    "wrong": ("✘", "you picked this: not right"),
    "missed": ("○", "a right answer you did not pick"),
}


def _markdown(text: str, *, indent: int = 0) -> Markdown | Padding:
    """Authored and generated text is Markdown: render it (bold, code, lists, wrapped whole)."""
    rendered = Markdown(text, code_theme="ansi_dark")
    return Padding(rendered, (0, 0, 0, indent)) if indent else rendered


def _plain_inline(text: str) -> str:
    """A one-line choice without Markdown's backticks and emphasis marks."""
    return text.replace("`", "").replace("**", "")


def _whole(points: float) -> int:
    return round_half_up(points)
