"""Multi-workspace OAuth: slack_sdk's installation and state stores on our own database.

Why here and not in ``core/store``: the interfaces and the ``Installation`` model are the Slack
SDK's, which only this adapter may know; the tables themselves (``slack_installations``,
``slack_oauth_states``) live in ``core/store/tables.py`` and migration 0004, so one schema and one
migration chain serve everything. Each installation is kept as JSON: one row for the installing
user and one (``user_id = ''``) for the workspace's latest install, which holds the bot token.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.store.engine import create_store_engine, unavailable_on_connectivity_errors, writer
from core.store.tables import metadata, slack_installations, slack_oauth_states

log = logging.getLogger(__name__)

WORKSPACE = ""  # the user_id of the row holding a workspace's latest installation (its bot)


def _keys(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> tuple[str, str]:
    # An org-wide install serves every workspace of the enterprise: it is found by enterprise only.
    return enterprise_id or "", "" if is_enterprise_install else (team_id or "")


def _dump(installation: Installation) -> str:
    return json.dumps(installation.to_dict_for_copying(), default=_jsonable, sort_keys=True)


def _jsonable(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in an installation")


def _load(data: str) -> Installation:
    return Installation(**json.loads(data))


def _with_bot_of(user: Installation, workspace: Installation | None) -> Installation:
    """The user's installation, carrying the workspace's latest bot token (it may have rotated)."""
    if workspace is None:
        return user
    fields = user.to_dict_for_copying()
    for name in (
        "bot_token",
        "bot_id",
        "bot_user_id",
        "bot_scopes",
        "bot_refresh_token",
        "bot_token_expires_at",
    ):
        fields[name] = getattr(workspace, name)
    return Installation(**fields)


class SqlInstallationStore(AsyncInstallationStore):
    """:class:`AsyncInstallationStore` on SQLite or PostgreSQL (tables of migration 0004)."""

    def __init__(self, engine: AsyncEngine, client_id: str) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        enterprise, team = _keys(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        data = _dump(installation)
        at = datetime.fromtimestamp(installation.installed_at, UTC).isoformat()
        table = slack_installations
        with unavailable_on_connectivity_errors(self._engine.url):
            async with self._writer.begin() as connection:
                for user_id in {installation.user_id or WORKSPACE, WORKSPACE}:
                    await connection.execute(
                        delete(table).where(
                            table.c.enterprise_id == enterprise,
                            table.c.team_id == team,
                            table.c.user_id == user_id,
                        )
                    )
                    await connection.execute(
                        insert(table).values(
                            enterprise_id=enterprise,
                            team_id=team,
                            user_id=user_id,
                            installed_at=at,
                            data=data,
                        )
                    )

    async def async_save_bot(self, bot: Bot) -> None:
        # Bots are saved as part of their installation (async_save); nothing separate to keep.
        return None

    async def _row(self, enterprise: str, team: str, user_id: str) -> Installation | None:
        table = slack_installations
        query = select(table.c.data).where(
            table.c.enterprise_id == enterprise, table.c.team_id == team, table.c.user_id == user_id
        )
        with unavailable_on_connectivity_errors(self._engine.url):
            async with self._engine.connect() as connection:
                data = (await connection.execute(query)).scalar_one_or_none()
        return None if data is None else _load(str(data))

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        enterprise, team = _keys(enterprise_id, team_id, is_enterprise_install)
        workspace = await self._row(enterprise, team, WORKSPACE)
        if user_id is None:
            return workspace
        found = await self._row(enterprise, team, user_id)
        return None if found is None else _with_bot_of(found, workspace)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if installation is None or installation.bot_token is None:
            return None
        return installation.to_bot()

    async def bot_for_scope(self, scope_id: str) -> Bot | None:
        """The bot serving a thread's ``scope_id`` (its workspace's team id, or the enterprise id
        of an org-wide install), whatever enterprise the workspace belongs to; None once the app
        is uninstalled there. For deliveries no Slack request carries (catch-up at start,
        pushes), where bolt's per-request lookup does not run."""
        table = slack_installations
        query = (
            select(table.c.data)
            .where(
                table.c.user_id == WORKSPACE,
                or_(
                    table.c.team_id == scope_id,
                    and_(table.c.enterprise_id == scope_id, table.c.team_id == ""),
                ),
            )
            .order_by(table.c.team_id.desc())  # the workspace's own install before an org-wide one
            .limit(1)
        )
        with unavailable_on_connectivity_errors(self._engine.url):
            async with self._engine.connect() as connection:
                data = (await connection.execute(query)).scalar_one_or_none()
        if not scope_id or data is None:
            return None
        installation = _load(str(data))
        return installation.to_bot() if installation.bot_token else None

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        enterprise, team = _keys(enterprise_id, team_id, None)
        table = slack_installations
        condition = [table.c.enterprise_id == enterprise, table.c.team_id == team]
        if user_id is not None:
            condition.append(table.c.user_id == user_id)
        with unavailable_on_connectivity_errors(self._engine.url):
            async with self._writer.begin() as connection:
                await connection.execute(delete(table).where(*condition))

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=WORKSPACE
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


class SqlOAuthStateStore(AsyncOAuthStateStore):
    """One-time OAuth ``state`` values, valid for ``expiration_seconds``, on our database."""

    def __init__(self, engine: AsyncEngine, expiration_seconds: int = 600) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        expires_at = _iso(time.time() + self.expiration_seconds)
        with unavailable_on_connectivity_errors(self._engine.url):
            async with self._writer.begin() as connection:
                await connection.execute(
                    insert(slack_oauth_states).values(state=state, expires_at=expires_at)
                )
        return state

    async def async_consume(self, state: str) -> bool:
        table = slack_oauth_states
        with unavailable_on_connectivity_errors(self._engine.url):
            async with self._writer.begin() as connection:
                result = await connection.execute(
                    delete(table).where(
                        table.c.state == state, table.c.expires_at > _iso(time.time())
                    )
                )
                # Expired states are spent too: clear them while we are here.
                await connection.execute(
                    delete(table).where(table.c.expires_at <= _iso(time.time()))
                )
        return bool(result.rowcount)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def sql_stores(
    database_url: str, client_id: str
) -> tuple[SqlInstallationStore, SqlOAuthStateStore, AsyncEngine]:
    """Both stores on one engine of their own (the caller disposes of it)."""
    engine = create_store_engine(database_url, pool_size=2, max_overflow=2)
    return SqlInstallationStore(engine, client_id), SqlOAuthStateStore(engine), engine


async def memory_stores(
    client_id: str,
) -> tuple[SqlInstallationStore, SqlOAuthStateStore, AsyncEngine]:
    """The same stores on a private in-memory SQLite (for ``DATABASE_URL=memory://``)."""
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with engine.begin() as connection:
        await connection.run_sync(
            metadata.create_all, tables=[slack_installations, slack_oauth_states]
        )
    return SqlInstallationStore(engine, client_id), SqlOAuthStateStore(engine), engine
