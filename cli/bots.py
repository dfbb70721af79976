"""``curiouscore bots discord|slack``: run one chat bot on its own (``up`` runs them beside the API)."""

from __future__ import annotations

import typer

from cli.common import DatabaseOption, err, run_with_services, settings_for
from core.bootstrap import Services

bots_app = typer.Typer(
    help="Chat bots: Discord and Slack, over the same Game Master.", no_args_is_help=True
)


def _run(platform: str, database_url: str | None) -> None:
    async def work(services: Services) -> None:
        if platform == "discord":
            from bots.discord.runner import run
        else:
            from bots.slack.runner import run
        await run(services)

    try:
        run_with_services(settings_for(database_url), work)
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
