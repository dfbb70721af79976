"""Accounts: registration, sign-in, refresh-token families, admins and chat identities.

Passwords are hashed with argon2id in a worker thread (never on the event loop). Refresh tokens and
link codes are random strings the store only ever sees as SHA-256 digests. A refresh token is spent
on every use and replaced by one of the same family; presenting a spent one again means it leaked,
so the whole family is revoked. Sign-in failures look and take the same whether the email is unknown
or the password wrong.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import (
    AlreadyExists,
    InvalidCredentials,
    InvalidInput,
    LearnerNotFound,
    NotFound,
    Unauthorized,
)
from core.service.actor import SESSION_ENDED, AccessCheck, Actor
from core.service.clock import Clock, new_id
from core.service.learners import LearnerService, Profile
from core.service.passwords import password_weakness
from core.service.session_changes import ChangePublisher, learner_topic
from core.store.accounts import (
    AccountRecord,
    IdentityRecord,
    LinkCodeRecord,
    RefreshOutcome,
    RefreshTokenRecord,
)
from core.store.base import AccessClaim, Learner, Store

log = logging.getLogger(__name__)

MIN_PASSWORD = 8
MAX_PASSWORD = 128
MAX_EMAIL = 254
MAX_DISPLAY_NAME = 50
MAX_TOKEN = 256
ROLES = ("learner", "reviewer", "author", "admin")
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LINK_CODE_LENGTH = 8
PLATFORM = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "11111111",
        "00000000",
        "qwertyui",
        "qwerty123",
        "iloveyou",
        "letmein1",
        "abc12345",
        "abcdefgh",
        "passw0rd",
        "curiouscore",
    }
)
SIGN_IN_FAILED = "incorrect email or password"


@dataclass(frozen=True, slots=True)
class AccountView:
    learner_id: str
    email: str
    display_name: str
    role: str
    created_at: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """An account and a fresh refresh token (shown once, never stored in clear)."""

    account: AccountView
    refresh_token: str
    refresh_expires_at: str
    # The learner's token version when signed in: access tokens carry it (see ``check_access``).
    token_version: int = 0


@dataclass(frozen=True, slots=True)
class IdentityView:
    platform: str
    external_id: str
    display_name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """What ``/api/me`` shows: the learner's profile, email and linked chat identities."""

    profile: Profile
    email: str | None
    identities: tuple[IdentityView, ...]


@dataclass(frozen=True, slots=True)
class LinkCode:
    code: str
    expires_at: str


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest under which a token or code is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    """Given a typed email, return its canonical form, or raise ``InvalidInput``."""
    value = unicodedata.normalize("NFKC", email).strip().lower()
    if len(value) > MAX_EMAIL or not EMAIL.match(value):
        raise InvalidInput("enter a valid email address, like ada@example.com")
    return value


def check_password(password: str, email: str) -> None:
    """Raise ``InvalidInput`` unless ``password`` is acceptable for the account ``email``."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password can have at most {MAX_PASSWORD} characters")
    lowered = password.strip().lower()
    if not lowered or lowered in COMMON_PASSWORDS or len(set(lowered)) < 3:
        raise InvalidInput("this password is too easy to guess; choose another")
    if lowered in (email, email.split("@", 1)[0]):
        raise InvalidInput("the password must not be your email address")
    weakness = password_weakness(password, (email, email.split("@", 1)[0]))
    if weakness is not None:
        raise InvalidInput(f"this password is too easy to guess: {weakness}")


def normalise_display_name(name: str) -> str:
    """Given a typed display name, return it tidied, or raise ``InvalidInput``."""
    value = " ".join(unicodedata.normalize("NFKC", name).split())
    if not value or len(value) > MAX_DISPLAY_NAME:
        raise InvalidInput(f"the display name needs 1 to {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise InvalidInput("the display name contains invisible control characters")
    return value


def normalise_link_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


class AccountService:
    """Use cases of web accounts and chat identities; the API and the bots call these."""

    def __init__(
        self,
        *,
        store: Store,
        learners: LearnerService,
        clock: Clock,
        hasher: PasswordHasher | None = None,
        refresh_ttl: timedelta = timedelta(days=14),
        link_code_ttl: timedelta = timedelta(minutes=10),
        max_concurrent_hashes: int = 4,
        id_factory: Callable[[], str] = new_id,
        changes: ChangePublisher | None = None,
    ) -> None:
        self._store = store
        # Told when a learner's access tokens stop working, so their open streams end at once.
        self._changes = changes
        self._learners = learners
        self._clock = clock
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._refresh_ttl = refresh_ttl
        self._link_code_ttl = link_code_ttl
        self._hashing = asyncio.Semaphore(max_concurrent_hashes)
        self._new_id = id_factory
        self._dummy_hash: str | None = None

    # -- registration and sign-in ----------------------------------------------------------

    async def register(self, email: str, password: str, display_name: str) -> SignedIn:
        """Create a learner account (never an admin) and sign it in."""
        account = await self._create(email, password, display_name, role="learner")
        log.info("account registered", extra={"learner_id": account.learner_id})
        return await self._sign_in(account, family_id=self._new_id())

    async def authenticate(self, email: str, password: str) -> SignedIn:
        """Check the credentials and sign in; the same error whichever part was wrong."""
        try:
            address = normalise_email(email)
        except InvalidInput:
            address = ""
        record = await self._store.get_account_by_email(address) if address else None
        if record is None:
            # Spend the same time as a real check so timing does not reveal unknown emails.
            await self._verify(await self._dummy(), password)
            raise InvalidCredentials(SIGN_IN_FAILED)
        if not await self._verify(record.password_hash, password):
            log.info("sign-in failed", extra={"learner_id": record.learner_id})
            raise InvalidCredentials(SIGN_IN_FAILED)
        if self._hasher.check_needs_rehash(record.password_hash):
            await self._store.set_password_hash(record.learner_id, await self._hash(password))
        account = await self._view(record)
        return await self._sign_in(account, family_id=self._new_id())

    async def refresh(self, refresh_token: str) -> SignedIn:
        """Spend ``refresh_token`` and return a new one of its family; reuse revokes the family."""
        now = self._clock.now()
        if not refresh_token or len(refresh_token) > MAX_TOKEN:
            raise Unauthorized(SESSION_ENDED)
        use = await self._store.use_refresh_token(digest(refresh_token), now)
        if use.outcome is RefreshOutcome.ALREADY_SPENT and use.record is not None:
            revoked = await self._store.revoke_refresh_family(use.record.family_id, now)
            # Whoever holds the family's access tokens may be the thief: end them all now.
            await self._end_access_tokens(use.record.learner_id)
            log.warning(
                "refresh token reused: its family is revoked",
                extra={"learner_id": use.record.learner_id, "revoked": revoked},
            )
            raise Unauthorized(SESSION_ENDED)
        if use.outcome is not RefreshOutcome.SPENT_NOW or use.record is None:
            raise Unauthorized(SESSION_ENDED)
        if use.record.expires_at <= now:
            raise Unauthorized(SESSION_ENDED)
        record = await self._store.get_account(use.record.learner_id)
        if record is None:
            raise Unauthorized(SESSION_ENDED)
        return await self._sign_in(await self._view(record), family_id=use.record.family_id)

    async def logout(self, refresh_token: str) -> None:
        """End the sign-in that ``refresh_token`` belongs to (its whole family); unknown is fine."""
        if not refresh_token or len(refresh_token) > MAX_TOKEN:
            return
        now = self._clock.now()
        use = await self._store.use_refresh_token(digest(refresh_token), now)
        if use.record is not None:
            await self._store.revoke_refresh_family(use.record.family_id, now)
            # Access tokens already issued stop working at once (the learner's other sign-ins
            # swap theirs at the next refresh).
            await self._end_access_tokens(use.record.learner_id)

    async def _end_access_tokens(self, learner_id: str) -> None:
        """Make the learner's access tokens stop working, and tell their open streams."""
        await self._store.bump_token_version(learner_id)
        self._access_ended(learner_id)

    def _access_ended(self, learner_id: str) -> None:
        if self._changes is not None:
            self._changes.publish(learner_topic(learner_id), 0)

    async def check_access(self, claim: AccessClaim) -> Actor:
        """Given an access token's claim, return the actor it may act as now.

        One primary-key read: a token issued before the learner's last sign-out, refresh-token
        reuse or role change raises ``Unauthorized``. (The session routes skip it: their
        statement checks the claim itself, see ``AccessCheck``.)
        """
        await AccessCheck(claim).ensure(self._store)
        return Actor(claim.learner_id, claim.role)

    async def profile(self, actor: Actor) -> AccountProfile:
        """Given an actor, return their profile, email (if a web account) and chat identities."""
        profile = await self._learners.profile(actor)
        record = await self._store.get_account(actor.learner_id)
        identities = await self._store.list_identities(actor.learner_id)
        return AccountProfile(
            profile=profile,
            email=record.email if record else None,
            identities=tuple(
                IdentityView(i.platform, i.external_id, i.display_name, i.created_at)
                for i in identities
            ),
        )

    # -- administration (CLI only) -----------------------------------------------------------

    async def create_admin(self, email: str, password: str, display_name: str) -> AccountView:
        """Create an admin account; an existing email is refused (promote it instead)."""
        account = await self._create(email, password, display_name, role="admin")
        log.info("admin account created", extra={"learner_id": account.learner_id})
        return account

    async def promote(self, email: str, role: str = "admin") -> AccountView:
        """Give the account registered with ``email`` the ``role``."""
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        record = await self._store.get_account_by_email(normalise_email(email))
        if record is None or not await self._store.set_learner_role(record.learner_id, role):
            raise NotFound("there is no account with that email")
        self._access_ended(record.learner_id)  # the role change ended their access tokens
        log.info("role changed", extra={"learner_id": record.learner_id, "role": role})
        return await self._view(record)

    # -- chat identities -----------------------------------------------------------------------

    async def create_link_code(self, actor: Actor) -> LinkCode:
        """A one-time code the learner types into a chat bot to link that chat user to them."""
        if await self._store.get_learner(actor.learner_id) is None:
            raise LearnerNotFound(f"learner {actor.learner_id!r} does not exist")
        raw = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
        expires_at = self._later(self._clock.now(), self._link_code_ttl)
        await self._store.add_link_code(LinkCodeRecord(digest(raw), actor.learner_id, expires_at))
        return LinkCode(f"{raw[:4]}-{raw[4:]}", expires_at)

    async def identity_for(self, platform: str, external_id: str, display_name: str) -> Learner:
        """Return the learner behind a chat user, provisioning one on first contact."""
        platform, external_id = _check_identity(platform, external_id)
        existing = await self._store.get_identity(platform, external_id)
        if existing is not None:
            learner = await self._store.get_learner(existing.learner_id)
            if learner is not None:
                return learner
            return await self._learners.ensure_learner(existing.learner_id, existing.display_name)
        name = _display_name_or(display_name, external_id)
        # A deterministic id makes two racing first contacts provision the same learner.
        learner_id = f"{platform}:{external_id}"
        try:
            learner = await self._learners.ensure_learner(learner_id, name)
        except ValueError:
            found = await self._store.get_learner(learner_id)
            if found is None:
                raise
            learner = found
        await self._store.add_identity(
            IdentityRecord(platform, external_id, learner_id, name, self._clock.now())
        )
        identity = await self._store.get_identity(platform, external_id)
        if identity is not None and identity.learner_id != learner.learner_id:
            # Linked by someone else between our read and write: theirs wins.
            linked = await self._store.get_learner(identity.learner_id)
            if linked is not None:
                return linked
        return learner

    async def link(self, platform: str, external_id: str, code: str) -> Learner:
        """Link a chat user to the web account that issued ``code``; from then on they share XP.

        Sessions the chat user played before linking stay with the chat-only learner.
        """
        platform, external_id = _check_identity(platform, external_id)
        record = await self._store.use_link_code(
            digest(normalise_link_code(code)), self._clock.now()
        )
        if record is None:
            raise InvalidInput("this link code is not valid or has expired; ask for a new one")
        learner = await self._store.get_learner(record.learner_id)
        if learner is None:
            raise LearnerNotFound("the account that issued this code no longer exists")
        existing = await self._store.get_identity(platform, external_id)
        if existing is None:
            await self._store.add_identity(
                IdentityRecord(
                    platform, external_id, learner.learner_id, external_id, self._clock.now()
                )
            )
        await self._store.relink_identity(platform, external_id, learner.learner_id)
        log.info(
            "chat identity linked",
            extra={"learner_id": learner.learner_id, "platform": platform},
        )
        return learner

    # -- helpers -------------------------------------------------------------------------------

    async def _create(
        self, email: str, password: str, display_name: str, *, role: str
    ) -> AccountView:
        address = normalise_email(email)
        # zxcvbn's estimate costs tens of milliseconds of CPU: off the event loop.
        await asyncio.to_thread(check_password, password, address)
        name = normalise_display_name(display_name)
        if await self._store.get_account_by_email(address) is not None:
            raise AlreadyExists(_EMAIL_TAKEN)
        record = AccountRecord(
            self._new_id(), address, await self._hash(password), self._clock.now()
        )
        if not await self._store.create_account(record, name, role):
            raise AlreadyExists(_EMAIL_TAKEN)
        return AccountView(record.learner_id, address, name, role, record.created_at)

    async def _sign_in(self, account: AccountView, *, family_id: str) -> SignedIn:
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires_at = self._later(now, self._refresh_ttl)
        await self._store.add_refresh_token(
            RefreshTokenRecord(digest(token), family_id, account.learner_id, now, expires_at)
        )
        state = await self._store.get_token_state(account.learner_id)
        if state is None:
            raise LearnerNotFound(f"learner {account.learner_id!r} does not exist")
        return SignedIn(replace(account, role=state.role), token, expires_at, state.version)

    async def _view(self, record: AccountRecord) -> AccountView:
        learner = await self._store.get_learner(record.learner_id)
        if learner is None:
            raise LearnerNotFound(f"learner {record.learner_id!r} does not exist")
        return AccountView(
            record.learner_id, record.email, learner.display_name, learner.role, record.created_at
        )

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        async with self._hashing:
            return await asyncio.to_thread(verify)

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    @staticmethod
    def _later(now: str, delta: timedelta) -> str:
        return (datetime.fromisoformat(now) + delta).isoformat(timespec="milliseconds")


_EMAIL_TAKEN = "an account with this email already exists; log in instead"


def _check_identity(platform: str, external_id: str) -> tuple[str, str]:
    platform = platform.strip().lower()
    external_id = external_id.strip()
    if not PLATFORM.match(platform) or platform == "system":
        # "system:" names the platform's own work in the event log (core.service.actor).
        raise InvalidInput("platform must be a short lower-case name such as slack or discord")
    if not external_id or len(external_id) > 200:
        raise InvalidInput("the chat user id must have 1 to 200 characters")
    return platform, external_id


def _display_name_or(display_name: str, fallback: str) -> str:
    try:
        return normalise_display_name(display_name)
    except InvalidInput:
        return fallback[:MAX_DISPLAY_NAME]
