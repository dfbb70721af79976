"""``curiouscore bots discord|slack``: run one chat bot on its own (``up`` runs them beside the API)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.console import Console

from core.bootstrap import ConfigurationError, build_services
from core.config import Settings
from core.store.base import StoreUnavailable

bots_app = typer.Typer(
    help="Chat bots: Discord and Slack, over the same Game Master.", no_args_is_help=True
)
err = Console(stderr=True)

DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="Overrides DATABASE_URL.")
]


def _run(platform: str, database_url: str | None) -> None:
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )

    async def main() -> None:
        services = await build_services(settings)
        try:
            if platform == "discord":
                from bots.discord.runner import run
            else:
                from bots.slack.runner import run
            await run(services)
        finally:
            await services.close()

    try:
        asyncio.run(main())
    except (ConfigurationError, StoreUnavailable) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("Stopped.")


@bots_app.command("discord")
def discord_bot(database_url: DatabaseOption = None) -> None:
    """Run the Discord bot (needs DISCORD_TOKEN; DISCORD_API_URL points it at another API)."""
    _run("discord", database_url)


@bots_app.command("slack")
def slack_bot(database_url: DatabaseOption = None) -> None:
    """Run the Slack bot: Socket Mode with SLACK_APP_TOKEN, else HTTP mode on /slack/events."""
    _run("slack", database_url)
