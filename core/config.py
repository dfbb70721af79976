"""Settings from the environment (and a ``.env`` file), as the deployment guide names them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob in one place; built by the composition root, never at import time."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite+aiosqlite:///./curiouscore.db"
    secret_key: SecretStr | None = None
    algorithm: str = "HS256"
    access_token_expire_minutes: int = 30

    llm_provider: Literal["offline", "anthropic", "openai", "gemini"] = "offline"
    llm_model: str | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_requests_per_minute: int = Field(default=60, ge=1)
    anthropic_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    gemini_api_key: SecretStr | None = None

    cors_origins: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    discord_token: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None

    snapshot_interval: int = Field(default=5, ge=1)
    challenges_dir: str = "challenges"

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
