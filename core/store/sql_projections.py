"""Projection checkpoints on SQL (table ``projection_checkpoints``, created by migration 0006)."""

from __future__ import annotations

from sqlalchemy import delete, select

from core.store.json_codec import dump_json, load_json
from core.store.projections import Checkpoint
from core.store.sql_base import SqlStoreBase
from core.store.tables import projection_checkpoints


class SqlProjections(SqlStoreBase):
    """:class:`~core.store.projections.ProjectionStore` on SQLite or PostgreSQL."""

    async def load_checkpoint(self, name: str) -> Checkpoint | None:
        query = select(projection_checkpoints).where(projection_checkpoints.c.name == name)
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        m = row._mapping
        return Checkpoint(m["name"], int(m["position"]), load_json(m["state"]), m["updated_at"])

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        values = {
            "name": checkpoint.name,
            "position": checkpoint.position,
            "state": dump_json(checkpoint.state),
            "updated_at": checkpoint.updated_at,
        }
        statement = self._insert(projection_checkpoints).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[projection_checkpoints.c.name],
            set_={
                "position": statement.excluded.position,
                "state": statement.excluded.state,
                "updated_at": statement.excluded.updated_at,
            },
            # Never move a checkpoint backwards (a slower process saving after a faster one).
            where=projection_checkpoints.c.position <= statement.excluded.position,
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def delete_checkpoint(self, name: str) -> bool:
        statement = delete(projection_checkpoints).where(projection_checkpoints.c.name == name)
        async with self._transaction(write=True) as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)
