"""Settings from the environment (and a ``.env`` file), as the deployment guide names them."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LlmPrice(BaseModel):
    """US dollars per million tokens in and out (an ``LLM_PRICES`` entry)."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class Settings(BaseSettings):
    """Every knob in one place; built by the composition root, never at import time."""

    # env_ignore_empty: an empty variable (``SLACK_APP_TOKEN=``, as compose writes an unset one)
    # means unset, for every setting, instead of flipping a mode on.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite+aiosqlite:///./curiouscore.db"
    # Optional read replica for lag-tolerant reads (session lists, leaderboard, analytics).
    database_read_url: str | None = None
    # PostgreSQL connection pool, per process: at most POOL_SIZE + MAX_OVERFLOW (30) connections,
    # as the guide's 10 + 20, but up to 20 of them stay open between bursts. An overflow connection
    # is closed as soon as it is returned to a full pool, so with 10 a busy worker (25 concurrent
    # learners) opened and closed ~100 connections per 900 requests, each costing a backend start
    # and its prepared statements (benchmarks/README.md, "Session 4, scale-out"). The hot path's
    # raw statements (token check, stream reads, appends) use at most POOL_SIZE at once and wait up
    # to the pool timeout (30 s) for one, keeping them checked out between statements
    # (core/store/postgres_kept.py); the overflow serves the rest.
    pool_size: int = Field(default=20, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_pre_ping: bool = True
    # At start, before it listens, a server opens its POOL_SIZE connections, prepares the hot
    # statements on each and loads the catalogue, for at most this long (0: not at all); a slow
    # or unreachable database is logged and the server starts anyway (core/bootstrap.warm_up).
    warm_up_seconds: float = Field(default=10.0, ge=0)
    secret_key: SecretStr | None = None
    algorithm: str = "HS256"
    access_token_expire_minutes: int = 30
    refresh_token_expire_days: int = Field(default=14, ge=1)
    link_code_expire_minutes: int = Field(default=10, ge=1)
    # Per client IP and per email, in-process sliding windows (see api/ratelimit.py).
    login_rate_limit_per_minute: int = Field(default=10, ge=1)
    register_rate_limit_per_hour: int = Field(default=20, ge=1)
    # Failed sign-ins per email from every address together, per hour: bounds guessing spread over
    # many addresses while one address's failures (limited per email and address, per minute)
    # cannot lock the owner out elsewhere.
    login_failures_per_email_per_hour: int = Field(default=100, ge=1)
    # Where the counters live: "auto" is Redis when REDIS_URL is set, else the database (every
    # worker and host shares it), and in-process only with the in-memory store.
    rate_limit_store: Literal["auto", "memory", "database", "redis"] = "auto"
    # Shared state across processes and hosts (rate limits, Slack replay claims), e.g.
    # redis://127.0.0.1:6379/0; unset: the database.
    redis_url: SecretStr | None = None
    # Every key this deployment writes to Redis starts with this (several deployments may share one).
    redis_key_prefix: str = "curiouscore:"
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses or networks,
    # comma-separated, or "*" for whatever peer connects (its one hop only). Empty: nobody.
    forwarded_allow_ips: str = ""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    llm_provider: Literal["offline", "anthropic", "openai", "gemini"] = "offline"
    llm_model: str | None = None
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_requests_per_minute: int = Field(default=60, ge=1)
    anthropic_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    gemini_api_key: SecretStr | None = None
    # The SDKs' base-URL variables (a gateway, or a local fake server in tests).
    anthropic_base_url: str | None = None
    openai_base_url: str | None = None
    gemini_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("gemini_base_url", "google_gemini_base_url")
    )
    llm_max_concurrency: int = Field(default=8, ge=1)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_retry_base_seconds: float = Field(default=0.5, ge=0)
    llm_cache_size: int = Field(default=1024, ge=0)
    llm_daily_budget_usd: float | None = Field(default=None, ge=0)
    # Reserved from a learner's budget while each LLM call is in flight (its cost is known only
    # after), so concurrent calls cannot all pass the check before any has spent.
    llm_budget_reserve_usd: float = Field(default=0.01, ge=0)
    # A chat grade whose confidence (0–1) is below this is marked needs_review in its event.
    grading_review_below: float = Field(default=0.6, ge=0, le=1)
    # The share of other chat grades sent to human review as a sample (issue 14); 1.0 sends all.
    review_sample_rate: float = Field(default=0.05, ge=0, le=1)
    # Reviewed answers a chat step needs before a model trained on them joins its grading (0: off).
    grading_min_labels: int = Field(default=30, ge=0)
    # JSON, e.g. {"my-model": {"input": 1.0, "output": 4.0}}: US dollars per million tokens.
    llm_prices: dict[str, LlmPrice] = Field(default_factory=dict)

    cors_origins: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    discord_token: SecretStr | None = None
    # Discord's HTTP API base; the gateway address then comes from its /gateway/bot.
    discord_api_url: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    # Multi-workspace OAuth installs (instead of one SLACK_BOT_TOKEN); the Web API base URL ends
    # with "/" and can point at a local fake Slack.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_scopes: str = "commands,chat:write,app_mentions:read,channels:history,groups:history"
    slack_api_url: str = "https://slack.com/api/"
    # Bearer token for /metrics; in production /metrics is not served without one (404).
    metrics_token: SecretStr | None = None

    # Code steps: bwrap (a bubblewrap sandbox per run) or unsafe-local (development only); the
    # runner is local (that sandbox) or judge0 (a Judge0 CE server at JUDGE0_URL).
    code_sandbox: Literal["bwrap", "unsafe-local"] = "bwrap"
    code_runner: Literal["local", "judge0"] = "local"
    judge0_url: str | None = None
    judge0_token: SecretStr | None = None
    code_python: str = "/usr/bin/python3"
    code_max_concurrency: int = Field(default=2, ge=1, le=64)
    code_trial_runs_per_minute: int = Field(default=10, ge=1)

    # Where pending LLM work (grading, hints, narration) runs: "inline" in the process that took
    # the request (the embedded default), or "queue": PostgreSQL jobs that `curiouscore worker`
    # runs, the request returning at once with the step awaiting its grade (docs/scaling.md).
    pending_work: Literal["inline", "queue"] = "inline"
    # uvicorn's worker count (its WEB_CONCURRENCY): above 1 needs REDIS_URL when a real LLM
    # provider is used, or each worker would keep its own LLM limits (core/process_lease.py).
    web_concurrency: int = Field(default=1, ge=1)
    # Jobs one `curiouscore worker` runs at once, and how long a job's worker may go without a
    # heartbeat before the job counts as stalled (its worker died) and is run again.
    worker_concurrency: int = Field(default=8, ge=1, le=256)
    worker_stalled_after_seconds: float = Field(default=30.0, ge=1)

    snapshot_interval: int = Field(default=5, ge=1)
    challenges_dir: str = "challenges"
    # The key of the event HMAC chain (at least 16 bytes), and retired keys still needed to verify
    # older events, comma-separated (see docs/security.md, "Event log integrity").
    event_hmac_key: SecretStr | None = None
    event_hmac_keys: SecretStr | None = None

    @property
    def event_hmac_key_list(self) -> list[str]:
        """The retired event HMAC keys (``EVENT_HMAC_KEYS``), in the order given."""
        raw = self.event_hmac_keys.get_secret_value() if self.event_hmac_keys else ""
        return [key.strip() for key in raw.split(",") if key.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
