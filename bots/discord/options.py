"""The Discord bot's own knobs (``DISCORD_*``), beside the shared ``Settings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DiscordOptions(BaseSettings):
    """``DISCORD_SHARDS``: shard count for AutoShardedClient (0 = as many as Discord recommends);
        ``DISCORD_SHARD_IDS``: the shards this process runs (e.g. ``0,1`` of 4), so several processes
        split one sharded bot — needs an explicit ``DISCORD_SHARDS``;
        ``DISCORD_PRIVATE_THREADS``: default thread privacy; ``DISCORD_PRIVATE_THREAD_GUILDS``: guild
        ids that get private threads whatever the default; ``DISCORD_ARCHIVE_AFTER_SECONDS``: delay
        before a finished session's thread is archived; ``DISCORD_MESSAGE_CONTENT``: read plain thread
        messages as chat answers (needs the privileged intent); ``DISCORD_GUILD_IDS``: sync commands to
        these guilds at once (global sync can take an hour to show); ``DISCORD_DRAIN_SECONDS``: how long
        a shutdown waits for running actions (gradings) to finish; ``DISCORD_PUSH_INTERVAL_SECONDS``: how
    often the bot looks in the event log for what changed without it (a teacher's review)."""

    model_config = SettingsConfigDict(
        env_prefix="DISCORD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    shards: int | None = Field(default=None, ge=0)
    shard_ids: str = ""
    private_threads: bool = False
    private_thread_guilds: str = ""
    archive_after_seconds: float = Field(default=300.0, ge=0)
    message_content: bool = False
    guild_ids: str = ""
    edit_interval_seconds: float = Field(default=1.0, ge=0)
    drain_seconds: float = Field(default=20.0, ge=0)
    push_interval_seconds: float = Field(default=2.0, gt=0)

    def private_in(self, guild_id: int | None) -> bool:
        """Whether sessions in this guild get private threads."""
        return self.private_threads or str(guild_id) in _ids(self.private_thread_guilds)

    @property
    def shard_id_list(self) -> list[int] | None:
        """The shards this process runs, or None for all of them."""
        ids = sorted(int(value) for value in _ids(self.shard_ids))
        if not ids:
            return None
        if not self.shards:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARDS (the total shard count)")
        if ids[-1] >= self.shards:
            raise ValueError(f"DISCORD_SHARD_IDS must be below DISCORD_SHARDS={self.shards}")
        return ids

    @property
    def sync_guilds(self) -> list[int]:
        return [int(value) for value in _ids(self.guild_ids)]


def _ids(raw: str) -> set[str]:
    return {part.strip() for part in raw.split(",") if part.strip()}
