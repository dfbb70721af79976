"""The in-memory :class:`~core.store.accounts.AccountStore`, mixed into ``InMemoryStore``.

No method awaits between reading and writing, so each one is atomic on the event loop, as the
conditional updates of the SQL store are in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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


@dataclass(slots=True)
class _AccountTables:
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    refresh: dict[str, RefreshTokenRecord] = field(default_factory=dict)
    identities: dict[tuple[str, str], IdentityRecord] = field(default_factory=dict)
    link_codes: dict[str, LinkCodeRecord] = field(default_factory=dict)
    token_versions: dict[str, int] = field(default_factory=dict)


class InMemoryAccounts:
    """Account tables in process memory; needs the host's ``_learners`` dict (``InMemoryStore``)."""

    _learners: dict[str, Learner]

    @property
    def _account_tables(self) -> _AccountTables:
        # Created on first use so the host class needs no change to its __init__.
        tables: _AccountTables | None = getattr(self, "_account_tables_", None)
        if tables is None:
            tables = _AccountTables()
            self._account_tables_ = tables
        return tables

    async def create_account(
        self, account: AccountRecord, display_name: str, role: str = "learner"
    ) -> bool:
        """Create the learner and its account together; False if the email is taken."""
        tables = self._account_tables
        if account.email in tables.emails:
            return False
        if account.learner_id in self._learners:
            raise ValueError(f"learner {account.learner_id!r} already exists")
        self._learners[account.learner_id] = Learner(
            account.learner_id, display_name, role, account.created_at
        )
        tables.accounts[account.learner_id] = account
        tables.emails[account.email] = account.learner_id
        return True

    async def get_account_by_email(self, email: str) -> AccountRecord | None:
        """Return the account registered with ``email`` (already normalised), if any."""
        learner_id = self._account_tables.emails.get(email)
        return None if learner_id is None else self._account_tables.accounts.get(learner_id)

    async def get_account(self, learner_id: str) -> AccountRecord | None:
        """Return the learner's account, if they have one."""
        return self._account_tables.accounts.get(learner_id)

    async def set_password_hash(self, learner_id: str, password_hash: str) -> None:
        """Replace the account's password hash (e.g. after a parameter upgrade)."""
        account = self._account_tables.accounts.get(learner_id)
        if account is not None:
            self._account_tables.accounts[learner_id] = replace(
                account, password_hash=password_hash
            )

    async def set_learner_role(self, learner_id: str, role: str) -> bool:
        """Change a learner's role; False when the learner does not exist."""
        learner = self._learners.get(learner_id)
        if learner is None:
            return False
        self._learners[learner_id] = replace(learner, role=role)
        await self.bump_token_version(learner_id)
        return True

    async def get_token_state(self, learner_id: str) -> TokenState | None:
        """The learner's token version and role; None when the learner does not exist."""
        learner = self._learners.get(learner_id)
        if learner is None:
            return None
        return TokenState(self._account_tables.token_versions.get(learner_id, 0), learner.role)

    async def bump_token_version(self, learner_id: str) -> None:
        """Make every access token issued to the learner so far stop working."""
        versions = self._account_tables.token_versions
        versions[learner_id] = versions.get(learner_id, 0) + 1

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None:
        """Store a newly issued refresh token (by digest)."""
        if record.token_hash in self._account_tables.refresh:
            raise ValueError("refresh token digest already stored")
        self._account_tables.refresh[record.token_hash] = record

    async def use_refresh_token(self, token_hash: str, at: str) -> RefreshUse:
        """Spend a live token; otherwise say why it could not be spent."""
        record = self._account_tables.refresh.get(token_hash)
        if record is None:
            return RefreshUse(RefreshOutcome.UNKNOWN, None)
        if record.revoked_at is not None:
            return RefreshUse(RefreshOutcome.REVOKED, record)
        if record.spent_at is not None:
            return RefreshUse(RefreshOutcome.ALREADY_SPENT, record)
        self._account_tables.refresh[token_hash] = replace(record, spent_at=at)
        return RefreshUse(RefreshOutcome.SPENT_NOW, record)

    async def revoke_refresh_family(self, family_id: str, at: str) -> int:
        """Revoke every not yet revoked token of the family; return how many."""
        refresh = self._account_tables.refresh
        live = [
            digest
            for digest, record in refresh.items()
            if record.family_id == family_id and record.revoked_at is None
        ]
        for digest in live:
            refresh[digest] = replace(refresh[digest], revoked_at=at)
        return len(live)

    async def get_identity(self, platform: str, external_id: str) -> IdentityRecord | None:
        """Return the chat identity, if known."""
        return self._account_tables.identities.get((platform, external_id))

    async def add_identity(self, identity: IdentityRecord) -> bool:
        """Store a new identity; False when it is already known."""
        key = (identity.platform, identity.external_id)
        if key in self._account_tables.identities:
            return False
        self._account_tables.identities[key] = identity
        return True

    async def relink_identity(self, platform: str, external_id: str, learner_id: str) -> None:
        """Point an existing identity at another learner."""
        identity = self._account_tables.identities.get((platform, external_id))
        if identity is not None:
            self._account_tables.identities[(platform, external_id)] = replace(
                identity, learner_id=learner_id
            )

    async def list_identities(self, learner_id: str) -> list[IdentityRecord]:
        """Return the learner's chat identities, ordered by platform then external id."""
        return sorted(
            (i for i in self._account_tables.identities.values() if i.learner_id == learner_id),
            key=lambda i: (i.platform, i.external_id),
        )

    async def add_link_code(self, record: LinkCodeRecord) -> None:
        """Store a new link code (by digest)."""
        self._account_tables.link_codes[record.code_hash] = record

    async def use_link_code(self, code_hash: str, at: str) -> LinkCodeRecord | None:
        """Redeem an unused, unexpired code; None when it cannot be redeemed."""
        record = self._account_tables.link_codes.get(code_hash)
        if record is None or record.used_at is not None or record.expires_at <= at:
            return None
        self._account_tables.link_codes[code_hash] = replace(record, used_at=at)
        return record
