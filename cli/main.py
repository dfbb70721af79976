"""``curiouscore``: play, seed, database and schema commands."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from cli.admin import admin_app
from cli.author import author_app
from cli.bots import bots_app
from cli.common import DatabaseOption, console, err, run_with_services, settings_for
from cli.db_ops import register as register_db_commands
from cli.server import register as register_server_commands
from cli.web import web_app
from cli.worker import register as register_worker_command
from core.bootstrap import Services, chain_keys
from core.content import challenge_schema
from core.errors import DomainError
from core.service.verify import verify_store
from core.store.base import StoreUnavailable
from seeds import default_challenge_dir, seed_challenges

app = typer.Typer(
    help="CuriousCore: narrated technical challenges run by a Game Master.", no_args_is_help=True
)
db_app = typer.Typer(help="Database: migrations, integrity checks, archives.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(author_app, name="author")
app.add_typer(bots_app, name="bots")
app.add_typer(web_app, name="web")
register_server_commands(app)
register_db_commands(app, db_app)
register_worker_command(app)


@app.command()
def play(
    challenge: Annotated[
        str | None, typer.Argument(help="Challenge id; omit to choose from a list.")
    ] = None,
    learner: Annotated[
        str | None, typer.Option(help="Your player name on this machine (default: your login).")
    ] = None,
    name: Annotated[str, typer.Option(help="Your display name.")] = "Player One",
    link: Annotated[
        str | None,
        typer.Option(help="A link code from your web profile: play as that account from now on."),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Play a whole challenge in the terminal (offline by default; resumes where you left off).

    Until linked to a web account (--link CODE), a terminal player stays off the public leaderboard.
    """
    import getpass

    from cli.play import TerminalGame

    settings = settings_for(database_url)
    logging.getLogger().setLevel(logging.WARNING)
    local_user = learner or getpass.getuser()
    run_with_services(
        settings,
        lambda services: TerminalGame(services, console).run(challenge, local_user, name, link),
        expected=(DomainError,),
    )


@app.command()
def seed(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: challenges/).")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Load challenge files idempotently: a changed file becomes a new version; nothing is deleted."""
    settings = settings_for(database_url)
    targets = paths or [default_challenge_dir(settings.challenges_dir)]

    async def work(services: Services) -> bool:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Seeding challenges", total=None)
            report = await seed_challenges(
                services, targets, on_progress=lambda _: progress.advance(task)
            )
        for error in report.errors:
            for problem in error.problems:
                err.print(problem, markup=False, highlight=False, soft_wrap=True)
        if not report.ok:
            err.print("Nothing was seeded: fix the files above and run again.", style="red")
            return False
        table = Table("challenge", "version", "outcome")
        for result in report.results:
            table.add_row(result.challenge_id, str(result.version), result.outcome.value)
        console.print(table)
        return True

    if not run_with_services(settings, work):
        raise typer.Exit(1)


@db_app.command("migrate")
def db_migrate(database_url: DatabaseOption = None) -> None:
    """Bring the database schema to the latest migration (safe to run from several workers)."""
    from core.store.migrate import migrate

    settings = settings_for(database_url)
    try:
        asyncio.run(migrate(settings.database_url))
    except StoreUnavailable as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    console.print("Database is at the latest schema.")


@db_app.command("verify")
def db_verify(database_url: DatabaseOption = None) -> None:
    """Replay every session; report hash-chain breaks (keyed with EVENT_HMAC_KEY), truncated or
    deleted sessions, sequence gaps, unreadable events, snapshot mismatches and read models
    (session index, XP ledger) that differ from a rebuild, naming the session and version."""
    settings = settings_for(database_url)

    async def work(services: Services) -> bool:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Replaying sessions", total=None)
            report = await verify_store(
                services.store,
                keys=chain_keys(services.settings),
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        for finding in report.findings:
            err.print(f"{finding.session_id}: {finding.problem}", markup=False, highlight=False)
        summary = (
            f"{report.sessions} sessions, {report.events} events, {len(report.findings)} problems"
        )
        if report.unchained_events:
            summary += f" ({report.unchained_events} events predate the hash chain)"
        if report.unkeyed_events:
            summary += (
                f" ({report.unkeyed_events} events are hashed without a key: set EVENT_HMAC_KEY "
                "so that an edit cannot be hidden by recomputing the chain)"
            )
        console.print(summary, style="green" if report.ok else "red")
        return report.ok

    if not run_with_services(settings, work):
        raise typer.Exit(1)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print (or write) the challenge file JSON Schema, generated from the models."""
    text = json.dumps(challenge_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output}")


def main() -> None:
    app()
