"""What every ``curiouscore`` command shares: the database option, settings and a service runner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from core.bootstrap import ConfigurationError, Services, build_services
from core.config import Settings
from core.store.base import StoreUnavailable

T = TypeVar("T")
console = Console()
err = Console(stderr=True)

DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="Overrides DATABASE_URL.")
]


def settings_for(database_url: str | None) -> Settings:
    """Settings from the environment, with ``--database-url`` on top; logging configured."""
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    return settings


def run_with_services(
    settings: Settings,
    work: Callable[[Services], Awaitable[T]],
    *,
    expected: tuple[type[Exception], ...] = (),
) -> T:
    """Build the services, run ``work``, close them; a configuration, database or ``expected``
    error becomes a one-line message and exit code 2, never a traceback."""

    async def main() -> T:
        services = await build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    handled: tuple[type[Exception], ...] = (ConfigurationError, StoreUnavailable, *expected)
    try:
        return asyncio.run(main())
    except handled as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
