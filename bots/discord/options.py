"""The Discord bot's own knobs (``DISCORD_*``), beside the shared ``Settings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DiscordOptions(BaseSettings):
    """``DISCORD_SHARDS``: shard count for AutoShardedClient (0 = as many as Discord recommends);
    ``DISCORD_PRIVATE_THREADS``: default thread privacy; ``DISCORD_PRIVATE_THREAD_GUILDS``: guild
    ids that get private threads whatever the default; ``DISCORD_ARCHIVE_AFTER_SECONDS``: delay
    before a finished session's thread is archived; ``DISCORD_MESSAGE_CONTENT``: read plain thread
    messages as chat answers (needs the privileged intent); ``DISCORD_GUILD_IDS``: sync commands to
    these guilds at once (global sync can take an hour to show)."""

    model_config = SettingsConfigDict(
        env_prefix="DISCORD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    shards: int | None = Field(default=None, ge=0)
    private_threads: bool = False
    private_thread_guilds: str = ""
    archive_after_seconds: float = Field(default=300.0, ge=0)
    message_content: bool = False
    guild_ids: str = ""
    edit_interval_seconds: float = Field(default=1.0, ge=0)

    def private_in(self, guild_id: int | None) -> bool:
        """Whether sessions in this guild get private threads."""
        return self.private_threads or str(guild_id) in _ids(self.private_thread_guilds)

    @property
    def sync_guilds(self) -> list[int]:
        return [int(value) for value in _ids(self.guild_ids)]


def _ids(raw: str) -> set[str]:
    return {part.strip() for part in raw.split(",") if part.strip()}
