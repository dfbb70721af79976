"""The account half of the store: web accounts, refresh tokens, chat identities and link codes.

Secrets never reach the store in clear: passwords arrive as argon2 hashes, refresh tokens and link
codes as SHA-256 digests. Every "use once" operation (spending a refresh token, redeeming a link code)
is a single conditional write, so two racing callers cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """A web account: one per learner, unique by (normalised) email."""

    learner_id: str
    email: str
    password_hash: str
    created_at: str


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    """A refresh token by its digest; every rotation adds one to the same family."""

    token_hash: str
    family_id: str
    learner_id: str
    issued_at: str
    expires_at: str
    spent_at: str | None = None
    revoked_at: str | None = None


class RefreshOutcome(StrEnum):
    SPENT_NOW = "spent now"  # it was live; this call spent it
    ALREADY_SPENT = "already spent"  # reuse: someone spent it before
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RefreshUse:
    outcome: RefreshOutcome
    record: RefreshTokenRecord | None


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """A chat platform user (``platform`` e.g. ``slack``/``discord``) mapped to a learner."""

    platform: str
    external_id: str
    learner_id: str
    display_name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class LinkCodeRecord:
    code_hash: str
    learner_id: str
    expires_at: str
    used_at: str | None = None


@dataclass(frozen=True, slots=True)
class TokenState:
    """What an access token is checked against on every request: the learner's current token
    version (bumped on sign-out, refresh-token reuse and role changes) and role."""

    version: int
    role: str


class AccountStore(Protocol):
    """Accounts, refresh-token families, chat identities and one-time link codes."""

    async def create_account(
        self, account: AccountRecord, display_name: str, role: str = "learner"
    ) -> bool:
        """Create the learner and its account together; False (and nothing stored) if the email is taken."""
        ...

    async def get_account_by_email(self, email: str) -> AccountRecord | None: ...

    async def get_account(self, learner_id: str) -> AccountRecord | None: ...

    async def set_password_hash(self, learner_id: str, password_hash: str) -> None: ...

    async def set_learner_role(self, learner_id: str, role: str) -> bool:
        """Change a learner's role and bump their token version; False when they do not exist."""
        ...

    async def get_token_state(self, learner_id: str) -> TokenState | None:
        """The learner's token version and role; None when the learner does not exist."""
        ...

    async def bump_token_version(self, learner_id: str) -> None:
        """Make every access token issued to the learner so far stop working."""
        ...

    async def add_refresh_token(self, record: RefreshTokenRecord) -> None: ...

    async def use_refresh_token(self, token_hash: str, at: str) -> RefreshUse:
        """Spend a live token atomically; otherwise say why it could not be spent."""
        ...

    async def revoke_refresh_family(self, family_id: str, at: str) -> int:
        """Revoke every not yet revoked token of the family; return how many."""
        ...

    async def get_identity(self, platform: str, external_id: str) -> IdentityRecord | None: ...

    async def add_identity(self, identity: IdentityRecord) -> bool:
        """Store a new identity; False when (platform, external_id) is already known."""
        ...

    async def relink_identity(self, platform: str, external_id: str, learner_id: str) -> None:
        """Point an existing identity at another learner."""
        ...

    async def list_identities(self, learner_id: str) -> list[IdentityRecord]:
        """Return the learner's chat identities, ordered by platform then external id."""
        ...

    async def add_link_code(self, record: LinkCodeRecord) -> None: ...

    async def use_link_code(self, code_hash: str, at: str) -> LinkCodeRecord | None:
        """Redeem an unused, unexpired code atomically; None when it cannot be redeemed."""
        ...
