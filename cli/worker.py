"""``curiouscore worker``: run the queued jobs (PENDING_WORK=queue) on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cli.common import DatabaseOption, err, settings_for
from core.bootstrap import ConfigurationError
from core.store.base import StoreUnavailable


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Jobs run at once (default: WORKER_CONCURRENCY)."),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Run pending LLM work (grading, hints, narration) and other queued jobs until stopped.

    Needs PostgreSQL; run as many as you like (each job runs once at a time per session; a job
    left by a killed worker runs again after WORKER_STALLED_AFTER_SECONDS). The API defers work
    here when PENDING_WORK=queue.
    """
    settings = settings_for(database_url)
    try:
        import procrastinate  # noqa: F401  (an optional extra)
    except ImportError:
        err.print(
            "[red]error:[/red] the worker needs procrastinate: pip install 'curiouscore[queue]'"
        )
        raise typer.Exit(2) from None
    from core.worker import run_worker

    try:
        asyncio.run(run_worker(settings, concurrency=concurrency))
    except (ConfigurationError, StoreUnavailable, ValueError, OSError) as error:
        err.print(f"error: {error}", style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command()(worker)
