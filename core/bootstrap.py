"""The composition root: every entry point (CLI, API, bots, notebooks, tests) builds services here."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from core.config import Settings
from core.llm.base import LlmProvider
from core.llm.offline import OfflineProvider
from core.llm.orchestrator import LlmOrchestrator
from core.service.catalog import Catalog
from core.service.clock import Clock, SystemClock
from core.service.learners import LearnerService
from core.service.sessions import GameService
from core.store import open_store
from core.store.base import Store


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

    async def close(self) -> None:
        await self.store.close()


def build_provider(settings: Settings) -> LlmProvider:
    """The provider named by ``LLM_PROVIDER``; ``offline`` needs no key and no network."""
    if settings.llm_provider == "offline":
        return OfflineProvider()
    raise ConfigurationError(
        f"LLM_PROVIDER={settings.llm_provider} is not available in this build yet; "
        "use LLM_PROVIDER=offline (the default)"
    )


async def build_services(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    provider: LlmProvider | None = None,
) -> Services:
    """Wire the core for one process; pass fakes (store, clock, provider) in tests."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    registry = CollectorRegistry()  # per process; /metrics renders it
    store = store or await open_store(settings.database_url)
    catalog = Catalog(store)
    llm = LlmOrchestrator(
        provider or build_provider(settings), timeout_seconds=settings.llm_timeout_seconds
    )
    game = GameService(
        store=store,
        catalog=catalog,
        llm=llm,
        clock=clock,
        snapshot_interval=settings.snapshot_interval,
    )
    learners = LearnerService(store=store, clock=clock)
    return Services(
        settings=settings,
        store=store,
        catalog=catalog,
        game=game,
        learners=learners,
        llm=llm,
        clock=clock,
        registry=registry,
    )
