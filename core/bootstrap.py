"""The composition root: every entry point (CLI, API, bots, notebooks, tests) builds services here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from prometheus_client import CollectorRegistry

from core.config import Settings
from core.llm.base import LlmProvider
from core.llm.errors import ProviderConfigError
from core.llm.factory import ProviderFactory
from core.llm.limits import CallRateLimit, DailyBudget, VerdictCache
from core.llm.metrics import LlmMetrics
from core.llm.orchestrator import LlmOrchestrator, LlmPolicy
from core.sandbox.factory import build_code_runner
from core.sandbox.models import CodeRunner, SandboxUnavailable
from core.service.accounts import AccountService
from core.service.analytics import AnalyticsService
from core.service.catalog import Catalog
from core.service.chat import ChatService
from core.service.clock import Clock, SystemClock
from core.service.grading_learning import LearnedGrading
from core.service.jobs import JobQueue
from core.service.learners import LearnerService
from core.service.review import ReviewService
from core.service.session_changes import ChangeFeed, LocalChanges
from core.service.sessions import GameService
from core.service.telemetry import SessionMetrics
from core.service.usage import UsageService
from core.store import open_store
from core.store.base import Store, StoreUnavailable
from core.store.integrity import ChainKeys
from core.store.rate_counters import MemoryRateCounters, RateCounters
from core.store.sql_rate_counters import SqlRateCounters
from core.store.sql_warm import SqlWarmUp

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says which setting and why."""


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    catalog: Catalog
    game: GameService
    learners: LearnerService
    llm: LlmOrchestrator
    clock: Clock
    registry: CollectorRegistry
    accounts: AccountService
    analytics: AnalyticsService
    usage: UsageService
    chat: ChatService
    rate_counters: RateCounters
    review: ReviewService | None = None  # issue 14; always set by build_services
    jobs: JobQueue | None = None  # PENDING_WORK=queue
    changes: ChangeFeed | None = None  # session change notifications (SSE); always set
    shared_llm: SharedLlmLimits | None = None  # REDIS_URL: the LLM limits in Redis
    code_runner: CodeRunner | None = None  # the game's; closed here (Judge0's HTTP client)
    learning: LearnedGrading | None = None  # per-step models from reviews; set by build_services

    async def close(self) -> None:
        if self.learning is not None:
            await self.learning.settle()
        for part in (self.jobs, self.changes, self.shared_llm):
            closer = getattr(part, "aclose", None)
            if closer is not None:
                await closer()
        await self.llm.aclose()
        runner_closer = getattr(self.code_runner, "aclose", None)
        if runner_closer is not None:
            await runner_closer()
        closer = getattr(self.rate_counters, "aclose", None)
        if closer is not None:  # Redis or in-process counters; the database ones are the store
            await closer()
        await self.store.close()


def build_provider(settings: Settings, factory: ProviderFactory | None = None) -> LlmProvider:
    """The provider named by ``LLM_PROVIDER``/``LLM_MODEL``; ``offline`` needs no key and no
    network. A provider without its API key (or SDK) raises ConfigurationError naming it."""
    try:
        return (factory or ProviderFactory(settings)).default()
    except ProviderConfigError as error:
        raise ConfigurationError(str(error)) from None


def chain_keys(settings: Settings) -> ChainKeys:
    """The event HMAC keyring from ``EVENT_HMAC_KEY`` and ``EVENT_HMAC_KEYS``."""
    current = settings.event_hmac_key.get_secret_value() if settings.event_hmac_key else None
    try:
        return ChainKeys.from_secrets(current or None, settings.event_hmac_key_list)
    except ValueError as error:
        raise ConfigurationError(f"EVENT_HMAC_KEY / EVENT_HMAC_KEYS: {error}") from None


def _code_runner(settings: Settings) -> CodeRunner | None:
    """The code runner; None (code steps refuse, naming the fix) when the settings cannot work."""
    try:
        return build_code_runner(settings)
    except SandboxUnavailable as error:
        logging.getLogger(__name__).error("code steps are off: %s", error)
        return None


def llm_policy(settings: Settings) -> LlmPolicy:
    """The orchestration policy from the ``LLM_*`` settings."""
    return LlmPolicy(
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        retry_base_seconds=settings.llm_retry_base_seconds,
        max_requests_per_minute=settings.llm_max_requests_per_minute,
        max_concurrency=settings.llm_max_concurrency,
        daily_budget_usd=settings.llm_daily_budget_usd,
        cache_size=settings.llm_cache_size,
        review_below=settings.grading_review_below,
        budget_reserve_usd=settings.llm_budget_reserve_usd,
    )


@dataclass(slots=True)
class SharedLlmLimits:
    """The LLM rate limit, evaluation cache and daily budget in Redis (``REDIS_URL``)."""

    limiter: CallRateLimit
    cache: VerdictCache
    budget: DailyBudget
    redis: Any

    async def aclose(self) -> None:
        await self.redis.aclose()


def shared_llm_limits(settings: Settings, store: Store) -> SharedLlmLimits | None:
    """With ``REDIS_URL``: the LLM limits every process shares; else None (this process's own)."""
    if settings.redis_url is None:
        return None
    from redis import asyncio as aioredis

    from core.llm.limits import RedisDailyBudget, RedisRateLimiter, RedisVerdictCache

    redis = aioredis.Redis.from_url(settings.redis_url.get_secret_value(), socket_connect_timeout=5)
    prefix = f"{settings.redis_key_prefix}llm:"

    async def spent_today(learner_id: str, day: str) -> float:
        return (await store.usage_totals(learner_id=learner_id, day=day)).cost_usd

    return SharedLlmLimits(
        limiter=RedisRateLimiter(redis, f"{prefix}rate", settings.llm_max_requests_per_minute),
        cache=RedisVerdictCache(redis, f"{prefix}cache:"),
        budget=RedisDailyBudget(
            redis, f"{prefix}budget:", spent_today, reserve_usd=settings.llm_budget_reserve_usd
        ),
        redis=redis,
    )


def build_rate_counters(settings: Settings, store: Store) -> RateCounters:
    """Where the rate-limit counters live (``RATE_LIMIT_STORE``): Redis when ``REDIS_URL`` is set,
    else the database (shared by every worker and host), in-process only with the in-memory store."""
    choice = settings.rate_limit_store
    if choice == "auto":
        if settings.redis_url is not None:
            choice = "redis"
        elif isinstance(store, SqlRateCounters):
            choice = "database"
        else:
            choice = "memory"
    if choice == "redis":
        if settings.redis_url is None:
            raise ConfigurationError("RATE_LIMIT_STORE=redis needs REDIS_URL")
        from core.store.redis_rate_counters import RedisRateCounters

        return RedisRateCounters.from_url(
            settings.redis_url.get_secret_value(), prefix=f"{settings.redis_key_prefix}rl:"
        )
    if choice == "database":
        if not isinstance(store, SqlRateCounters):
            raise ConfigurationError("RATE_LIMIT_STORE=database needs a SQL DATABASE_URL")
        return store
    return MemoryRateCounters()


def build_change_feed(settings: Settings) -> ChangeFeed:
    """Where session change notifications travel: Redis pub/sub with ``REDIS_URL``, PostgreSQL
    LISTEN/NOTIFY when a worker process records results (``PENDING_WORK=queue``), else in process."""
    if settings.redis_url is not None:
        from core.store.change_feeds import RedisChanges

        return RedisChanges(
            settings.redis_url.get_secret_value(), channel=f"{settings.redis_key_prefix}sessions"
        )
    if settings.pending_work == "queue" and settings.database_url.startswith("postgresql"):
        from core.store.change_feeds import PostgresChanges

        return PostgresChanges(settings.database_url)
    return LocalChanges()


async def build_job_queue(settings: Settings) -> JobQueue | None:
    """The job queue for ``PENDING_WORK=queue`` (PostgreSQL only); None: work is done in process."""
    if settings.pending_work != "queue":
        return None
    if not settings.database_url.startswith("postgresql"):
        raise ConfigurationError(
            "PENDING_WORK=queue needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://…) and a "
            "`curiouscore worker`; with SQLite keep PENDING_WORK=inline"
        )
    try:
        import procrastinate  # noqa: F401  (an optional extra)
    except ImportError:
        raise ConfigurationError(
            "PENDING_WORK=queue needs procrastinate: pip install 'curiouscore[queue]'"
        ) from None
    from core.queue import QueuedJobs

    # Its own pool beside the store's: every request that records an answer may defer a job.
    return await QueuedJobs.open(settings.database_url, max_connections=settings.pool_size)


async def build_services(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    provider: LlmProvider | None = None,
    password_hasher: PasswordHasher | None = None,
    code_runner: CodeRunner | None = None,
    run_pending_here: bool = False,
) -> Services:
    """Wire the core for one process; pass fakes (store, clock, provider) in tests.

    ``run_pending_here``: this process does pending work itself even with PENDING_WORK=queue
    (``curiouscore worker``), still publishing session changes as the API expects."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    registry = CollectorRegistry()  # per process; /metrics renders it
    store = store or await open_store(
        settings.database_url,
        read_url=settings.database_read_url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=settings.pool_pre_ping,
        chain_keys=chain_keys(settings),
    )
    catalog = Catalog(store)
    providers = ProviderFactory(settings)
    shared = shared_llm_limits(settings, store)
    llm = LlmOrchestrator(
        provider or build_provider(settings, providers),
        limiter=shared.limiter if shared else None,
        cache=shared.cache if shared else None,
        budget=shared.budget if shared else None,
        policy=llm_policy(settings),
        providers=providers,
        usage=store,
        metrics=LlmMetrics(registry),
    )
    changes = build_change_feed(settings)
    jobs = None if run_pending_here else await build_job_queue(settings)
    rate_counters = build_rate_counters(settings, store)
    code_runner = code_runner or _code_runner(settings)
    learning = LearnedGrading(store, min_labels=settings.grading_min_labels)
    game = GameService(
        jobs=jobs,
        changes=changes,
        store=store,
        catalog=catalog,
        llm=llm,
        clock=clock,
        snapshot_interval=settings.snapshot_interval,
        metrics=SessionMetrics(registry),
        code_runner=code_runner,
        code_trials_per_minute=settings.code_trial_runs_per_minute,
        review_sample_rate=settings.review_sample_rate,
        rate_counters=rate_counters,  # trial-run limits and run claims, shared across processes
        learning=learning,
    )
    learners = LearnerService(store=store, clock=clock)
    accounts = AccountService(
        store=store,
        learners=learners,
        clock=clock,
        hasher=password_hasher,
        refresh_ttl=timedelta(days=settings.refresh_token_expire_days),
        link_code_ttl=timedelta(minutes=settings.link_code_expire_minutes),
        changes=changes,
    )
    return Services(
        settings=settings,
        store=store,
        catalog=catalog,
        game=game,
        learners=learners,
        llm=llm,
        clock=clock,
        registry=registry,
        accounts=accounts,
        analytics=AnalyticsService(store=store, catalog=catalog, clock=clock, registry=registry),
        usage=UsageService(store=store, daily_budget_usd=settings.llm_daily_budget_usd),
        chat=ChatService(store=store, game=game, accounts=accounts, clock=clock),
        rate_counters=rate_counters,
        review=ReviewService(store=store, game=game, clock=clock, catalog=catalog),
        jobs=jobs,
        changes=changes,
        shared_llm=shared,
        code_runner=code_runner,
        learning=learning,
    )


async def warm_up(
    services: Services, *, also: Callable[[], Awaitable[object]] | None = None
) -> None:
    """Before a server reports ready: open the store's pool and prepare its hot statements
    (``core.store.sql_warm``), load every challenge's latest version, then run ``also`` (what
    the adapter warms: the API its renderer), all within ``WARM_UP_SECONDS`` (0: skip).

    Otherwise the first burst of requests pays for all of it, queued behind each other. A
    database that is slow or unreachable is logged and the server starts anyway: it serves what
    it can and ``/health`` reports the database, as without the warm-up."""
    seconds = services.settings.warm_up_seconds
    if seconds <= 0:
        return
    started = time.monotonic()
    store = services.store
    connections = 0
    try:
        async with asyncio.timeout(seconds):
            if isinstance(store, SqlWarmUp):
                connections = await store.warm_up()
            await services.catalog.summaries()
            if also is not None:
                await also()
    except (TimeoutError, StoreUnavailable) as error:
        log.warning(
            "warm-up stopped after %.1f s, serving anyway: %s",
            time.monotonic() - started,
            str(error) or f"not done within WARM_UP_SECONDS={seconds:g}",
        )
        return
    log.info(
        "warmed up",
        extra={"connections": connections, "seconds": round(time.monotonic() - started, 3)},
    )
