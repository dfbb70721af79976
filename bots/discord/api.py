"""Point discord.py at another Discord API (``DISCORD_API_URL``), gateway included."""

from __future__ import annotations

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = yarl.URL("wss://gateway.discord.gg/")


def use_api(base_url: str | None) -> None:
    """Route every REST call to ``base_url`` (Discord's own when None).

    discord.py keeps the base on a class, so this holds for the whole process; one process runs
    one Discord bot.
    """
    Route.BASE = base_url.rstrip("/") if base_url else DISCORD_API
    DiscordWebSocket.DEFAULT_GATEWAY = DISCORD_GATEWAY


async def use_gateway_of_api(client: discord.Client) -> None:
    """Take the gateway address from ``GET /gateway/bot`` of the configured API.

    discord.py's Client otherwise connects to its built-in gateway even with the route base changed.
    """
    _, url, _ = await client.http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
