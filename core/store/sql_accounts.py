"""The SQL :class:`~core.store.accounts.AccountStore` (tables from migration 0002), mixed into ``SqlStore``.

"Use once" operations are conditional UPDATEs (``… WHERE spent_at IS NULL``) inside a writer
transaction, so of two racing callers exactly one sees its row count of 1.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc, insert, select, update
from sqlalchemy.engine import Row

from core.store.accounts import (
    AccountRecord,
    IdentityRecord,
    LinkCodeRecord,
    RefreshOutcome,
    RefreshTokenRecord,
    RefreshUse,
    TokenState,
)
from core.store.base import Learner
from core.store.engine import unavailable_on_connectivity_errors
from core.store.sql_base import SqlStoreBase
from core.store.sql_raw import sql
from core.store.tables import accounts, learner_identities, learners, link_codes, refresh_tokens

# Read on every authenticated request: SQL text for the driver connection (core/store/sql_raw.py).
# The rest of the learner's row comes along for ``get_learner`` (sql_base._seen_learner).
_TOKEN_STATE = sql(
    "token_state",
    "SELECT token_version, role, display_name, created_at FROM learners WHERE learner_id = $1",
)


class SqlAccounts(SqlStoreBase):
    """Accounts, refresh tokens, identities and link codes on SQLite or PostgreSQL."""

    async def create_account(
        self, account: AccountRecord, display_name: str, role: str = "learner"
    ) -> bool:
        """Create the learner and its account in one transaction; False if the email is taken."""
        try:
            async with self._transaction(write=True) as connection:
                taken = await connection.execute(
                    select(accounts.c.learner_id).where(accounts.c.email == account.email)
                )
                if taken.first() is not None:
                    return False
                await connection.execute(
                    insert(learners).values(
                        learner_id=account.learner_id,
                        display_name=display_name,
                        role=role,
                        created_at=account.created_at,
                    )
                )
                await connection.execute(
                    insert(accounts).values(
                        learner_id=account.learner_id,
                        email=account.email,
                        password_hash=account.password_hash,
                        created_at=account.created_at,
                    )
                )
        except exc.IntegrityError:
            # A concurrent registration with the same email committed between our check and insert.
            return False
        return True

    async def get_account_by_email(self, email: str) -> AccountRecord | None:
        """Return the account registered with ``email`` (already normalised), if any."""
        async with self._transaction() as connection:
            row = (
                await connection.execute(select(accounts).where(accounts.c.email == email))
            ).first()
        return None if row is None else _account(row)

    async def get_account(self, learner_id: str) -> AccountRecord | None:
        """Return the learner's account, if they have one."""
        query = select(accounts).where(accounts.c.learner_id == learner_id)
        async with self._read() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _account(row)

    async def set_password_hash(self, learner_id: str, password_hash: str) -> None:
        """Replace the account's password hash (e.g. after a parameter upgrade)."""
        statement = (
            update(accounts)
            .where(accounts.c.learner_id == learner_id)
            .values(password_hash=password_hash)
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def set_learner_role(self, learner_id: str, role: str) -> bool:
        """Change a learner's role and bump their token version; False when they do not exist."""
        statement = (
            update(learners)
            .where(learners.c.learner_id == learner_id)
            .values(role=role, token_version=learners.c.token_version + 1)
        )
        self._learner_rows.pop(learner_id, None)
        async with self._transaction(write=True) as connection:
            result = await connection.execute(statement)
        self._learner_rows.pop(learner_id, None)
        return bool(result.rowcount == 1)

    async def get_token_state(self, learner_id: str) -> TokenState | None:
        """The learner's token version and role (one primary-key read, on the primary)."""
        kept = self._kept
        if kept is not None:  # SQLite: straight onto a kept connection (core.store.sqlite_kept)
            try:
                row = await kept.fetchrow("token_state", _TOKEN_STATE.sqlite, (learner_id,))
            except Exception:
                # translated as _raw_read translates it (the engine's URL is only looked up now)
                with unavailable_on_connectivity_errors(self._engine.url):
                    raise
        else:
            row = await self._fetchrow(_TOKEN_STATE, (learner_id,))
        if row is None:
            return None
        self._remember_learner(Learner(learner_id, row[2], row[1], row[3]))
        return TokenState(int(row[0]), row[1])

    async def bump_token_version(self, learner_id: str) -> None:
        """Make every access token issued to the learner so far stop working."""
        statement = (
            update(learners)
            .where(learners.c.learner_id == learner_id)
            .values(token_version=learners.c.token_version + 1)
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None:
        """Store a newly issued refresh token (by digest)."""
        statement = insert(refresh_tokens).values(
            token_hash=record.token_hash,
            family_id=record.family_id,
            learner_id=record.learner_id,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
            spent_at=record.spent_at,
            revoked_at=record.revoked_at,
        )
        try:
            async with self._transaction(write=True) as connection:
                await connection.execute(statement)
        except exc.IntegrityError:
            raise ValueError("refresh token digest already stored") from None

    async def use_refresh_token(self, token_hash: str, at: str) -> RefreshUse:
        """Spend a live token atomically; otherwise say why it could not be spent."""
        by_hash = refresh_tokens.c.token_hash == token_hash
        async with self._transaction(write=True) as connection:
            row = (await connection.execute(select(refresh_tokens).where(by_hash))).first()
            if row is None:
                return RefreshUse(RefreshOutcome.UNKNOWN, None)
            record = _refresh(row)
            spend = (
                update(refresh_tokens)
                .where(
                    by_hash,
                    refresh_tokens.c.spent_at.is_(None),
                    refresh_tokens.c.revoked_at.is_(None),
                )
                .values(spent_at=at)
            )
            if (await connection.execute(spend)).rowcount == 1:
                return RefreshUse(RefreshOutcome.SPENT_NOW, record)
            # Lost a race, or it was never live: read what the winner left.
            row = (await connection.execute(select(refresh_tokens).where(by_hash))).first()
        record = _refresh(row) if row is not None else record
        if record.revoked_at is not None:
            return RefreshUse(RefreshOutcome.REVOKED, record)
        return RefreshUse(RefreshOutcome.ALREADY_SPENT, record)

    async def revoke_refresh_family(self, family_id: str, at: str) -> int:
        """Revoke every not yet revoked token of the family; return how many."""
        statement = (
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        async with self._transaction(write=True) as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)

    async def get_identity(self, platform: str, external_id: str) -> IdentityRecord | None:
        """Return the chat identity, if known."""
        query = select(learner_identities).where(
            learner_identities.c.platform == platform,
            learner_identities.c.external_id == external_id,
        )
        async with self._transaction() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _identity(row)

    async def add_identity(self, identity: IdentityRecord) -> bool:
        """Store a new identity; False when (platform, external_id) is already known."""
        statement = (
            self._insert(learner_identities)
            .values(
                platform=identity.platform,
                external_id=identity.external_id,
                learner_id=identity.learner_id,
                display_name=identity.display_name,
                created_at=identity.created_at,
            )
            .on_conflict_do_nothing(
                index_elements=[learner_identities.c.platform, learner_identities.c.external_id]
            )
        )
        async with self._transaction(write=True) as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount == 1)

    async def relink_identity(self, platform: str, external_id: str, learner_id: str) -> None:
        """Point an existing identity at another learner."""
        statement = (
            update(learner_identities)
            .where(
                learner_identities.c.platform == platform,
                learner_identities.c.external_id == external_id,
            )
            .values(learner_id=learner_id)
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def list_identities(self, learner_id: str) -> list[IdentityRecord]:
        """Return the learner's chat identities, ordered by platform then external id."""
        query = (
            select(learner_identities)
            .where(learner_identities.c.learner_id == learner_id)
            .order_by(
                self._binary(learner_identities.c.platform),
                self._binary(learner_identities.c.external_id),
            )
        )
        async with self._transaction() as connection:
            rows = (await connection.execute(query)).all()
        return [_identity(row) for row in rows]

    async def add_link_code(self, record: LinkCodeRecord) -> None:
        """Store a new link code (by digest)."""
        statement = insert(link_codes).values(
            code_hash=record.code_hash,
            learner_id=record.learner_id,
            expires_at=record.expires_at,
            used_at=record.used_at,
        )
        async with self._transaction(write=True) as connection:
            await connection.execute(statement)

    async def use_link_code(self, code_hash: str, at: str) -> LinkCodeRecord | None:
        """Redeem an unused, unexpired code atomically; None when it cannot be redeemed."""
        redeem = (
            update(link_codes)
            .where(
                link_codes.c.code_hash == code_hash,
                link_codes.c.used_at.is_(None),
                link_codes.c.expires_at > at,
            )
            .values(used_at=at)
        )
        async with self._transaction(write=True) as connection:
            if (await connection.execute(redeem)).rowcount != 1:
                return None
            row = (
                await connection.execute(
                    select(link_codes).where(link_codes.c.code_hash == code_hash)
                )
            ).one()
        return LinkCodeRecord(row.code_hash, row.learner_id, row.expires_at, None)


def _account(row: Row[Any]) -> AccountRecord:
    return AccountRecord(row.learner_id, row.email, row.password_hash, row.created_at)


def _refresh(row: Row[Any]) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        token_hash=row.token_hash,
        family_id=row.family_id,
        learner_id=row.learner_id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        spent_at=row.spent_at,
        revoked_at=row.revoked_at,
    )


def _identity(row: Row[Any]) -> IdentityRecord:
    return IdentityRecord(
        row.platform, row.external_id, row.learner_id, row.display_name, row.created_at
    )
