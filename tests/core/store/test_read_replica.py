"""DATABASE_READ_URL: lag-tolerant reads go to the replica, writes (and the reads they need) never.

Two separate SQLite files stand in for a primary and a replica that has not caught up, so a read
that went to the replica shows the stale (empty) answer.
"""

from __future__ import annotations

from pathlib import Path

from core.service.actor import Actor
from core.store.base import XpGrant
from core.store.migrate import migrate
from core.store.sql import SqlStore
from tests.core.service.conftest import make_services
from tests.core.store.conftest import count_rows

ADA = Actor("ada")
ADMIN = Actor("root", "admin")
AT = "2026-01-01T00:00:00.000+00:00"


async def test_reads_go_to_the_replica_and_writes_do_not(tmp_path: Path) -> None:
    primary = f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}"
    replica = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    await migrate(primary)
    await migrate(replica)
    services = await make_services(SqlStore(primary, read_url=replica))
    try:
        view = await services.game.create_session(ADA, "quiz")
        await services.game.start_session(ADA, view.session_id)
        # The write path and the session view read the primary: the session is there...
        assert (await services.game.get_view(ADA, view.session_id)).status == "active"
        # ...while lists, the leaderboard and analytics come from the (stale) replica.
        assert await services.game.list_sessions(ADA) == []
        assert await services.store.grant_xp(XpGrant("ada", "quiz", view.session_id, 100, AT))
        assert await services.store.leaderboard() == []
        assert (await services.analytics.report(ADMIN)).events == 0
    finally:
        await services.close()
    assert await count_rows(replica, "game_events") == 0
    assert await count_rows(replica, "session_index") == 0
    assert await count_rows(primary, "game_events") > 0

    alone = SqlStore(primary)  # without a replica everything uses the primary
    try:
        assert [s.session_id for s in await alone.list_sessions("ada")] == [view.session_id]
        assert len(await alone.read_all()) == await count_rows(primary, "game_events")
        assert [row.learner_id for row in await alone.leaderboard()] == ["ada"]
    finally:
        await alone.close()
