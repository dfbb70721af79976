"""``curiouscore db archive|restore`` and ``curiouscore analytics export``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from cli.common import DatabaseOption, console, err, run_with_services, settings_for
from core.bootstrap import Services
from core.config import Settings
from core.service.actor import Actor
from core.service.analytics_export import analytics_csv
from core.service.archive import ArchiveError, archive_sessions, parse_age, restore_archive
from core.store.sql import SqlStore
from core.store.sql_archive import ArchiveMismatch

T = TypeVar("T")
analytics_app = typer.Typer(help="Admin analytics over the event log.", no_args_is_help=True)


def _run(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    return run_with_services(settings, work, expected=(ArchiveError, ArchiveMismatch))


def _sql_store(services: Services) -> SqlStore:
    if not isinstance(services.store, SqlStore):
        err.print("[red]error:[/red] archives need a SQLite or PostgreSQL DATABASE_URL")
        raise typer.Exit(2)
    return services.store


def db_archive(
    to: Annotated[Path, typer.Option("--to", help="Directory for the archive files.")],
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age of the last event, e.g. 90d, 12h.")
    ] = "90d",
    database_url: DatabaseOption = None,
) -> None:
    """Copy finished sessions older than --older-than to compressed JSON Lines in --to, verify the
    copy, then mark them archived. Events are never deleted."""
    try:
        age = parse_age(older_than)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--older-than") from None

    async def work(services: Services) -> None:
        report = await archive_sessions(
            _sql_store(services),
            to,
            older_than=age,
            now=services.clock.now(),
            progress=lambda done: err.print(f"archived {done} sessions", highlight=False),
        )
        console.print(
            f"Archived {report.sessions} sessions ({report.events} events) "
            f"in {len(report.files)} files to {to}",
            highlight=False,
        )

    _run(settings_for(database_url), work)


def db_restore(
    directory: Annotated[Path, typer.Argument(help="An archive directory (with manifest.json).")],
    database_url: DatabaseOption = None,
) -> None:
    """Check an archive against its manifest and put its sessions back (idempotent)."""

    async def work(services: Services) -> None:
        report = await restore_archive(_sql_store(services), directory, now=services.clock.now())
        console.print(
            f"Restored {report.sessions} sessions: {report.events_added} of "
            f"{report.events_in_archive} events were missing and are back.",
            highlight=False,
        )

    _run(settings_for(database_url), work)


@analytics_app.command("export")
def analytics_export(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Export the admin analytics as CSV (section, subject, metric, value)."""

    async def work(services: Services) -> str:
        report = await services.analytics.report(Actor("cli", role="admin"))
        return analytics_csv(report)

    text = _run(settings_for(database_url), work)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        err.print(f"Wrote {out}", highlight=False)


def register(app: typer.Typer, db_app: typer.Typer) -> None:
    """Add ``db archive``, ``db restore`` and ``analytics export`` to the ``curiouscore`` command."""
    db_app.command("archive")(db_archive)
    db_app.command("restore")(db_restore)
    app.add_typer(analytics_app, name="analytics")
