"""``run(services)``: the Discord bot until it is stopped (``curiouscore bots discord`` / ``up``)."""

from __future__ import annotations

from bots.discord.api import use_api
from bots.discord.bot import create_bot
from bots.discord.options import DiscordOptions
from core.bootstrap import ConfigurationError, Services


async def run(services: Services) -> None:
    """Log in with ``DISCORD_TOKEN`` and serve until cancelled; ``DISCORD_API_URL`` redirects
    the REST API and, through its ``/gateway/bot``, the gateway. Other knobs: ``DISCORD_*``
    (see ``DiscordOptions``)."""
    await run_with(services, DiscordOptions())


async def run_with(services: Services, options: DiscordOptions) -> None:
    settings = services.settings
    if settings.discord_token is None:
        raise ConfigurationError("DISCORD_TOKEN is not set; the Discord bot cannot log in")
    use_api(settings.discord_api_url)
    bot = create_bot(services, options, api_url=settings.discord_api_url)
    async with bot:
        await bot.start(settings.discord_token.get_secret_value())
