"""Chat threads and delivery de-duplication on SQL (tables from migration 0003)."""

from __future__ import annotations

from sqlalchemy import delete, exc, insert, select, update
from sqlalchemy.engine import Row

from core.store.chat import FINISHED, ChatThread
from core.store.sql_base import SqlStoreBase
from core.store.tables import chat_deliveries, chat_threads


class SqlChat(SqlStoreBase):
    """:class:`~core.store.chat.ChatStore` on SQLite or PostgreSQL."""

    async def bind_thread(self, thread: ChatThread) -> bool:
        statement = insert(chat_threads).values(
            platform=thread.platform,
            scope_id=thread.scope_id,
            thread_id=thread.thread_id,
            channel_id=thread.channel_id,
            session_id=thread.session_id,
            learner_id=thread.learner_id,
            created_at=thread.created_at,
        )
        try:
            async with self._transaction(write=True) as connection:
                await connection.execute(statement)
        except exc.IntegrityError:
            return False
        return True

    async def thread_for_session(self, session_id: str) -> ChatThread | None:
        query = select(chat_threads).where(chat_threads.c.session_id == session_id)
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _thread(row)

    async def session_in_thread(
        self, platform: str, scope_id: str, thread_id: str
    ) -> ChatThread | None:
        query = select(chat_threads).where(
            chat_threads.c.platform == platform,
            chat_threads.c.scope_id == scope_id,
            chat_threads.c.thread_id == thread_id,
        )
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _thread(row)

    async def record_shown(self, session_id: str, delivered_seq: int, shown: str) -> None:
        c = chat_threads.c
        async with self._transaction(write=True) as connection:
            await connection.execute(
                update(chat_threads).where(c.session_id == session_id).values(shown=shown)
            )
            await connection.execute(
                update(chat_threads)
                .where(c.session_id == session_id, c.delivered_seq < delivered_seq)
                .values(delivered_seq=delivered_seq)
            )

    async def unfinished_threads(self, platform: str) -> list[ChatThread]:
        c = chat_threads.c
        query = select(chat_threads).where(c.platform == platform, c.shown != FINISHED)
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_thread(row) for row in rows]

    async def schedule_archive(self, session_id: str, at: str) -> None:
        c = chat_threads.c
        async with self._transaction(write=True) as connection:
            await connection.execute(
                update(chat_threads).where(c.session_id == session_id).values(archive_at=at)
            )

    async def due_archives(self, platform: str, now: str) -> list[ChatThread]:
        c = chat_threads.c
        query = (
            select(chat_threads)
            .where(c.platform == platform, c.archive_at.is_not(None), c.archive_at <= now)
            .order_by(c.archive_at)
            .limit(100)
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_thread(row) for row in rows]

    async def archive_done(self, session_id: str) -> None:
        c = chat_threads.c
        async with self._transaction(write=True) as connection:
            await connection.execute(
                update(chat_threads).where(c.session_id == session_id).values(archive_at=None)
            )

    async def rebind_thread(self, thread: ChatThread) -> None:
        c = chat_threads.c
        async with self._transaction(write=True) as connection:
            old = (
                await connection.execute(
                    select(chat_threads).where(c.session_id == thread.session_id)
                )
            ).first()
            await connection.execute(delete(chat_threads).where(c.session_id == thread.session_id))
            await connection.execute(
                insert(chat_threads).values(
                    platform=thread.platform,
                    scope_id=thread.scope_id,
                    thread_id=thread.thread_id,
                    channel_id=thread.channel_id,
                    session_id=thread.session_id,
                    learner_id=thread.learner_id,
                    created_at=thread.created_at,
                    delivered_seq=old._mapping["delivered_seq"] if old is not None else 0,
                    shown=old._mapping["shown"] if old is not None else "",
                )
            )

    async def first_delivery(self, platform: str, delivery_id: str, received_at: str) -> bool:
        statement = (
            self._insert(chat_deliveries)
            .values(platform=platform, delivery_id=delivery_id, received_at=received_at)
            .on_conflict_do_nothing()
        )
        async with self._transaction(write=True) as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)


def _thread(row: Row[object]) -> ChatThread:
    m = row._mapping
    return ChatThread(
        platform=m["platform"],
        scope_id=m["scope_id"],
        thread_id=m["thread_id"],
        channel_id=m["channel_id"],
        session_id=m["session_id"],
        learner_id=m["learner_id"],
        created_at=m["created_at"],
        delivered_seq=m["delivered_seq"],
        shown=m["shown"],
        archive_at=m["archive_at"],
    )
