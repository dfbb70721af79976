"""Persistence: the store protocols, their in-memory and SQL implementations, and migrations."""

from core.store.base import (
    AppendResult,
    ChallengeRecord,
    ConcurrencyError,
    ContentStore,
    EventStore,
    LeaderboardRow,
    Learner,
    LearnerStore,
    NewEvent,
    SchemaNotMigrated,
    SessionSummary,
    Snapshot,
    Store,
    StoredEvent,
    StoreError,
    StoreUnavailable,
    XpGrant,
)
from core.store.factory import MEMORY_URL, open_store
from core.store.memory import InMemoryStore
from core.store.migrate import current_head, migrate
from core.store.sql import SqlStore

__all__ = [
    "MEMORY_URL",
    "AppendResult",
    "ChallengeRecord",
    "ConcurrencyError",
    "ContentStore",
    "EventStore",
    "InMemoryStore",
    "LeaderboardRow",
    "Learner",
    "LearnerStore",
    "NewEvent",
    "SchemaNotMigrated",
    "SessionSummary",
    "Snapshot",
    "SqlStore",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredEvent",
    "XpGrant",
    "current_head",
    "migrate",
    "open_store",
]
