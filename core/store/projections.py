"""Projection checkpoints (table ``projection_checkpoints``): where a projection over the event log
got to, and its folded state, so that a restarted process resumes instead of replaying everything.

A checkpoint is a cache: deleting it only means the next catch-up folds the whole log again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.store.json_codec import dump_json, load_json


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A projection's state after folding every event up to global ``position``."""

    name: str
    position: int
    state: dict[str, Any]
    updated_at: str


class ProjectionStore(Protocol):
    """One checkpoint per projection name."""

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        """Return the projection's checkpoint, if any."""
        ...

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` unless the stored one is at a later position (another process
        got further): a checkpoint never moves backwards, except through :meth:`delete_checkpoint`."""
        ...

    async def delete_checkpoint(self, name: str) -> bool:
        """Forget the projection's checkpoint; True if there was one."""
        ...


class InMemoryProjections:
    """:class:`ProjectionStore` in process memory (a mixin of the in-memory store)."""

    @property
    def _checkpoints(self) -> dict[str, tuple[int, str, str]]:
        # Created on first use so the host class needs no change to its __init__.
        rows: dict[str, tuple[int, str, str]] | None = getattr(self, "_checkpoint_rows_", None)
        if rows is None:
            rows = {}
            self._checkpoint_rows_ = rows
        return rows

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        row = self._checkpoints.get(name)
        if row is None:
            return None
        position, state, updated_at = row
        return Checkpoint(name, position, load_json(state), updated_at)

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        stored = self._checkpoints.get(checkpoint.name)
        if stored is not None and stored[0] > checkpoint.position:
            return
        self._checkpoints[checkpoint.name] = (
            checkpoint.position,
            dump_json(checkpoint.state),
            checkpoint.updated_at,
        )

    async def delete_checkpoint(self, name: str) -> bool:
        return self._checkpoints.pop(name, None) is not None
