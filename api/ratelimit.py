"""Sign-in and registration limits over shared, atomic counters (``core.store.rate_counters``).

Sign-in has three limits, each reserved before the password is checked, so a burst of concurrent
guesses cannot all pass a check that only counts afterwards:

* per client address, every attempt (``LOGIN_RATE_LIMIT_PER_MINUTE``): one address cannot hammer;
* per (email, address), failures (the same limit): one address cannot guess one account's password;
* per email from every address together, failures (``LOGIN_FAILURES_PER_EMAIL_PER_HOUR``, much
  higher): guessing spread over many addresses stays bounded.

A sign-in that succeeds gives its two failure reservations back, so only failures stay counted.
Failures from one address therefore never lock the owner out when they sign in from another
address; only a many-address attack that reaches the hourly ceiling does, and that is the price of
bounding it. Registration counts every attempt per address and per email, per hour. Keys are
SHA-256 digests: counters never hold an email or an address in clear.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from core.config import Settings
from core.errors import RateLimited
from core.store.rate_counters import RateCounters

TOO_MANY = "too many attempts; please wait a little and try again"
MINUTE = 60
HOUR = 3600


@dataclass(frozen=True, slots=True)
class Reservation:
    key: str
    window: int
    bucket: int


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """The failure reservations a sign-in holds until its outcome is known."""

    failures: tuple[Reservation, ...]


class AuthRateLimits:
    """The sign-in and registration limits; ``counters`` decides where they are shared."""

    def __init__(
        self,
        settings: Settings,
        counters: RateCounters,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counters = counters
        self._clock = clock
        self._per_minute = settings.login_rate_limit_per_minute
        self._per_email_hour = settings.login_failures_per_email_per_hour
        self._register_per_hour = settings.register_rate_limit_per_hour

    async def before_login(self, ip: str, email: str) -> LoginAttempt:
        """Count the attempt and reserve its failures, or raise ``RateLimited``."""
        address, account = _digest("ip", ip), _digest("email", _canonical(email))
        await self._take(f"login:ip:{address}", self._per_minute, MINUTE)
        taken: list[Reservation] = []
        try:
            taken.append(
                await self._take(f"login:fail:{account}:{address}", self._per_minute, MINUTE)
            )
            taken.append(await self._take(f"login:fail:{account}", self._per_email_hour, HOUR))
        except RateLimited:
            await self._give_back(taken)  # not a failure: the password was never checked
            raise
        return LoginAttempt(tuple(taken))

    async def login_succeeded(self, attempt: LoginAttempt) -> None:
        """A correct password is not a failure: release the reservations."""
        await self._give_back(attempt.failures)

    async def before_register(self, ip: str, email: str) -> None:
        """Count a registration attempt per address and per email, or raise ``RateLimited``."""
        address, account = _digest("ip", ip), _digest("email", _canonical(email))
        first = await self._take(f"register:ip:{address}", self._register_per_hour, HOUR)
        try:
            await self._take(f"register:email:{account}", self._register_per_hour, HOUR)
        except RateLimited:
            await self._give_back([first])
            raise

    async def _take(self, key: str, limit: int, window: int) -> Reservation:
        hit = await self._counters.take_rate_hit(key, limit=limit, window=window, now=self._clock())
        if not hit.allowed:
            raise RateLimited(TOO_MANY, hit.retry_after)
        return Reservation(key, window, hit.bucket)

    async def _give_back(self, reservations: list[Reservation] | tuple[Reservation, ...]) -> None:
        for reservation in reservations:
            await self._counters.give_back_rate_hit(
                reservation.key, window=reservation.window, bucket=reservation.bucket
            )


def _canonical(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x00{value}".encode(errors="surrogatepass")).hexdigest()[:32]
