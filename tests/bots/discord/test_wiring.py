"""How the bot is put together: options, intents, sharding, the API base, the `up` hook, errors."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.api import DISCORD_API, DISCORD_GATEWAY, use_api
from bots.discord.bot import CuriousBot, ShardedCuriousBot, create_bot, intents_for
from bots.discord.errors import STEP_CLOSED, UNEXPECTED, friendly_message
from bots.discord.options import DiscordOptions
from bots.discord.runner import run
from bots.discord.threads import EditThrottle
from cli.server import bot_jobs
from core.bootstrap import ConfigurationError, Services
from core.config import Settings
from core.errors import ChallengeNotFound, StepNotCurrent


def test_up_starts_the_discord_bot_when_its_token_is_set() -> None:
    assert run in bot_jobs(Settings(discord_token="t", slack_bot_token=None))
    assert run not in bot_jobs(Settings(discord_token=None, slack_bot_token=None))


async def test_run_refuses_to_start_without_a_token(services: Services) -> None:
    services.settings = services.settings.model_copy(update={"discord_token": None})
    with pytest.raises(ConfigurationError, match="DISCORD_TOKEN"):
        await run(services)


def test_options_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_SHARDS", "4")
    monkeypatch.setenv("DISCORD_PRIVATE_THREAD_GUILDS", "11, 22")
    monkeypatch.setenv("DISCORD_GUILD_IDS", "33")
    options = DiscordOptions()
    assert options.shards == 4
    assert options.private_in(22) and not options.private_in(44)
    assert DiscordOptions(private_threads=True).private_in(44)
    assert options.sync_guilds == [33]


def test_message_content_is_asked_for_only_when_enabled() -> None:
    plain = intents_for(DiscordOptions(message_content=False))
    assert plain.guilds and not plain.message_content and not plain.members
    reading = intents_for(DiscordOptions(message_content=True))
    assert reading.message_content and reading.guild_messages


async def test_discord_shards_selects_the_auto_sharded_client(services: Services) -> None:
    sharded = create_bot(services, DiscordOptions(shards=3))
    single = create_bot(services, DiscordOptions(shards=None))
    # Neither logs in, so there is nothing to close.
    assert isinstance(sharded, ShardedCuriousBot)
    assert isinstance(sharded, discord.AutoShardedClient) and sharded.shard_count == 3
    assert isinstance(single, CuriousBot)
    assert not isinstance(single, discord.AutoShardedClient)


def test_the_api_base_is_configurable_and_restorable() -> None:
    use_api("http://127.0.0.1:9/api/v10/")
    try:
        assert Route("GET", "/gateway/bot").url == "http://127.0.0.1:9/api/v10/gateway/bot"
    finally:
        use_api(None)
    assert Route.BASE == DISCORD_API
    assert DiscordWebSocket.DEFAULT_GATEWAY == DISCORD_GATEWAY


def test_errors_become_friendly_messages_and_never_a_stack_trace() -> None:
    assert friendly_message(StepNotCurrent("step x is not current")) == STEP_CLOSED
    assert "nope" in friendly_message(ChallengeNotFound("there is no challenge called 'nope'"))
    leaked = friendly_message(RuntimeError("anthropic: 529 overloaded, key sk-123"))
    assert leaked == UNEXPECTED and "sk-" not in leaked
    wrapped = discord.app_commands.CommandInvokeError.__new__(
        discord.app_commands.CommandInvokeError
    )
    wrapped.__cause__ = StepNotCurrent("x")
    assert friendly_message(wrapped) == STEP_CLOSED


async def test_edits_in_one_thread_are_spaced_by_the_interval() -> None:
    throttle = EditThrottle(0.2)
    times: dict[int, list[float]] = {1: [], 2: []}
    loop = asyncio.get_running_loop()

    def edit(thread: int):  # type: ignore[no-untyped-def]
        async def record() -> None:
            times[thread].append(loop.time())

        return record

    await asyncio.gather(*(throttle.run(1, edit(1)) for _ in range(3)), throttle.run(2, edit(2)))
    one = times[1]
    assert one[1] - one[0] >= 0.19 and one[2] - one[1] >= 0.19
    assert times[2][0] - one[0] < 0.1  # another thread does not wait


async def test_discord_shard_ids_split_one_sharded_bot_across_processes(services: Services) -> None:
    part = create_bot(services, DiscordOptions(shards=4, shard_ids="2, 0"))
    assert isinstance(part, discord.AutoShardedClient)
    assert part.shard_count == 4 and part.shard_ids == [0, 2]
    with pytest.raises(ValueError, match="needs DISCORD_SHARDS"):
        _ = DiscordOptions(shard_ids="0").shard_id_list
    with pytest.raises(ValueError, match="below DISCORD_SHARDS=2"):
        _ = DiscordOptions(shards=2, shard_ids="0,2").shard_id_list
