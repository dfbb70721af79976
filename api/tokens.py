"""JWT access tokens (HS256 by default) and the SECRET_KEY they are signed with."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import uuid
from calendar import timegm
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from core.bootstrap import ConfigurationError
from core.config import Settings
from core.errors import Unauthorized
from core.service.passwords import secret_key_weakness
from core.store.base import AccessClaim

log = logging.getLogger(__name__)

# RFC 7518 §3.2: an HMAC key at least as long as the hash output.
MIN_SECRET_LENGTH = {"HS256": 32, "HS384": 48, "HS512": 64}
ALGORITHMS = frozenset(MIN_SECRET_LENGTH)
ISSUER = "curiouscore"
TOKEN_INVALID = "your sign-in is not valid or has expired; please log in again"  # noqa: S105
LEEWAY_SECONDS = 5
# Verified tokens kept per process: a signed-in learner sends the same token until it expires
# (30 minutes by default), so a few thousand cover every active learner of one process.
VERIFIED_CACHE_SIZE = 4096


def resolve_secret(settings: Settings) -> str:
    """Return the signing key; refuse a missing or weak one unless ``ENV=development``.

    In development a random key is made for this process only (access tokens end with it; the
    refresh tokens in the database keep working). The key itself is never logged.
    """
    configured = settings.secret_key.get_secret_value() if settings.secret_key else ""
    minimum = MIN_SECRET_LENGTH.get(settings.algorithm, 64)
    if len(configured.encode("utf-8")) < minimum:
        problem = "missing" if not configured else f"shorter than {minimum} bytes"
    else:
        weakness = secret_key_weakness(configured)
        if weakness is None:
            return configured
        problem = f"too easy to guess ({weakness})"
    if settings.env != "development":
        raise ConfigurationError(
            f"SECRET_KEY is {problem}: set it to at least {minimum} random characters for "
            f"{settings.algorithm} (e.g. `openssl rand -hex 32`); only ENV=development may run "
            "without one"
        )
    log.warning(
        "SECRET_KEY is missing or weak; using a random key for this development process only "
        "(access tokens stop working when it restarts)"
    )
    return secrets.token_urlsafe(64)


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int


class AccessTokens:
    """Issues and checks short-lived access tokens: ``sub``, ``role``, ``iat``, ``exp``, ``jti``
    and ``ver``, the learner's token version (checked against the account on every request)."""

    def __init__(self, secret: str, *, algorithm: str = "HS256", ttl: timedelta) -> None:
        if algorithm not in ALGORITHMS:
            raise ConfigurationError(
                f"ALGORITHM={algorithm} is not supported; use one of {', '.join(sorted(ALGORITHMS))}"
            )
        self._secret = secret
        self._algorithm = algorithm
        self._ttl = ttl
        # token string -> (what it names, its ``exp``): only well-signed tokens with valid claims.
        self._verified: OrderedDict[str, tuple[AccessClaim, int]] = OrderedDict()

    def issue(self, learner_id: str, role: str, version: int = 0) -> AccessToken:
        now = datetime.now(UTC)
        expires = now + self._ttl
        claims = {
            "iss": ISSUER,
            "sub": learner_id,
            "role": role,
            "iat": now,
            "exp": expires,
            "jti": uuid.uuid4().hex,
            "typ": "access",
            "ver": version,
        }
        token = jwt.encode(claims, self._secret, algorithm=self._algorithm)
        # Known good from the start: its learner's first request is not the one that decodes it
        # (a burst of learners who have just signed in would decode theirs one after another).
        # ``exp`` as PyJWT wrote it (``timegm`` of the UTC time: whole seconds, fraction dropped).
        self._remember(
            token, AccessClaim(learner_id, role, version), timegm(expires.utctimetuple())
        )
        return AccessToken(token, int(self._ttl.total_seconds()))

    def verify(self, token: str) -> AccessClaim:
        """Return what a well-signed, unexpired token claims, or raise ``Unauthorized``.

        Only the signature and the claims are checked here, so the result is a claim, not an
        actor: whether its version is still current is the account's to say, on every request
        (``AccountService.check_access``, or the session request's own statement: a signed-out or
        revoked token is refused there at once, cached here or not). A token verified before
        is not decoded again (the same string has the same signature and claims), but its expiry
        is checked on every use."""
        cached = self._verified.get(token)
        if cached is not None:
            verified, expires_at = cached
            if expires_at > time.time() - LEEWAY_SECONDS:  # as PyJWT checks ``exp``
                # ``try``, not ``contextlib.suppress``: no context manager built and entered on
                # every request (free in 3.11 when nothing is raised).
                try:  # noqa: SIM105
                    self._verified.move_to_end(token)
                except KeyError:  # evicted meanwhile (a sync caller's thread)
                    pass
                return verified
            self._verified.pop(token, None)
            raise Unauthorized(TOKEN_INVALID)
        verified, expires_at = self._decode(token)
        self._remember(token, verified, expires_at)
        return verified

    def _remember(self, token: str, claim: AccessClaim, expires_at: int) -> None:
        self._verified[token] = (claim, expires_at)
        while len(self._verified) > VERIFIED_CACHE_SIZE:
            with contextlib.suppress(KeyError):
                self._verified.popitem(last=False)

    def _decode(self, token: str) -> tuple[AccessClaim, int]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti"]},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError:
            raise Unauthorized(TOKEN_INVALID) from None
        subject, role = claims.get("sub"), claims.get("role", "learner")
        version = claims.get("ver", 0)  # tokens from before versions existed count as version 0
        if (
            claims.get("typ") != "access"
            or not isinstance(subject, str)
            or not isinstance(role, str)
            or not isinstance(version, int)
            or isinstance(version, bool)
        ):
            raise Unauthorized(TOKEN_INVALID)
        # PyJWT has checked ``exp`` as this integer (``_validate_exp``); the cache checks it so too.
        return AccessClaim(subject, role, version), int(claims["exp"])
