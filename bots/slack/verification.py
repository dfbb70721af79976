"""Refusing what Slack did not send, before bolt (or anything else) reads a byte of it.

``RequestGuard.refusal`` checks the two signature headers strictly: exactly one of each, a
timestamp of ASCII digits within 5 minutes, a ``v0=`` HMAC-SHA256 of the raw body under the signing
secret. Anything else is a 401 and the body is never parsed. A signed request is then *claimed* by
its signature (Redis ``SET NX`` with an expiry when ``REDIS_URL`` is set, else a row in the
database), so a replay inside the 5-minute window is acknowledged and dropped: every worker and host
sees the same claims. ``response_url_allowed`` keeps every answer on Slack's own hosts (derived from
``SLACK_API_URL``), so a body can never make the server call an address of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from redis.asyncio import Redis

from core.service.chat import ChatService

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 5 * 60
# A claim must outlive every moment its request could still be accepted: a timestamp up to
# 5 minutes in the future stays acceptable until 5 minutes after that.
CLAIM_SECONDS = 2 * TOLERANCE_SECONDS + 1
REPLAY_PLATFORM = "slack-signature"
SLACK_HOOKS = ("https", "hooks.slack.com", 443)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that make URL parsers disagree about the host (``\\``, userinfo, whitespace).
_AMBIGUOUS_URL = re.compile(r"[\\@\s\x00-\x1f\x7f]")


class ReplayClaims(Protocol):
    async def claim(self, signature: str) -> bool:
        """True the first time ``signature`` is seen (within the window); False for a replay."""
        ...

    async def aclose(self) -> None: ...


class DatabaseClaims:
    """Claims as rows in the database every process shares (the chat delivery table)."""

    def __init__(self, chat: ChatService) -> None:
        self._chat = chat

    async def claim(self, signature: str) -> bool:
        return await self._chat.first_delivery(REPLAY_PLATFORM, signature)

    async def aclose(self) -> None:
        return None


class RedisClaims:
    """Claims as Redis keys that expire once a replay could no longer pass the timestamp check."""

    def __init__(self, client: Redis, prefix: str = "curiouscore:slack:request:") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "curiouscore:slack:request:") -> RedisClaims:
        # Slack wants an answer within 3 seconds: a hung Redis must fail fast (503, Slack retries).
        return cls(Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0), prefix)

    async def claim(self, signature: str) -> bool:
        created = await self._client.set(self._prefix + signature, b"1", nx=True, ex=CLAIM_SECONDS)
        return bool(created)

    async def aclose(self) -> None:
        await self._client.aclose()


def _one(headers: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = headers.get(name) or ()
    return values[0] if len(values) == 1 else None


class RequestGuard:
    """Signature, freshness and replay checks for ``/slack/events`` (see the module docstring)."""

    def __init__(
        self,
        signing_secret: str,
        claims: ReplayClaims,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signing_secret:
            raise ValueError("a signing secret is required in HTTP mode")
        self._secret = signing_secret.encode("utf-8")
        self._claims = claims
        self._clock = clock

    def refusal(self, headers: Mapping[str, Sequence[str]], body: bytes) -> str | None:
        """Why this request is not Slack's (for the log), or None when its signature holds.

        ``headers`` has lower-case names. Uses nothing from the body but its bytes.
        """
        timestamp = _one(headers, "x-slack-request-timestamp")
        signature = _one(headers, "x-slack-signature")
        if timestamp is None or signature is None:
            return "missing or repeated signature headers"
        if not _TIMESTAMP.fullmatch(timestamp):
            return "malformed timestamp"
        if abs(self._clock() - int(timestamp)) > TOLERANCE_SECONDS:
            return "stale timestamp"
        if not _SIGNATURE.fullmatch(signature):
            return "malformed signature"
        expected = hmac.new(
            self._secret, b"v0:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest("v0=" + expected, signature):
            return "signature mismatch"
        return None

    async def first_time(self, headers: Mapping[str, Sequence[str]]) -> bool:
        """Claim a verified request by its signature; False when it was seen before."""
        signature = _one(headers, "x-slack-signature")
        assert signature is not None  # refusal() has passed
        return await self._claims.claim(signature)

    async def aclose(self) -> None:
        await self._claims.aclose()


def allowed_origins(slack_api_url: str) -> frozenset[tuple[str, str, int]]:
    """(scheme, host, port) a ``response_url`` may point at: the API's own origin, and on the real
    Slack API also ``https://hooks.slack.com``, where Slack's response URLs live."""
    origin = _origin(slack_api_url)
    if origin is None:
        return frozenset()
    origins = {origin}
    if origin[1] == "slack.com" or origin[1].endswith(".slack.com"):
        origins.add(SLACK_HOOKS)
    return frozenset(origins)


def response_url_allowed(url: object, slack_api_url: str) -> bool:
    """True when ``url`` is a plain URL on one of :func:`allowed_origins`."""
    if not isinstance(url, str) or _AMBIGUOUS_URL.search(url):
        return False
    origin = _origin(url)
    return origin is not None and origin in allowed_origins(slack_api_url)


def response_urls(body: Any) -> list[object]:
    """Every ``response_url`` value anywhere in a parsed request body (commands, actions, views)."""
    found: list[object] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "response_url":
                found.append(value)
            else:
                found.extend(response_urls(value))
    elif isinstance(body, list):
        for item in body:
            found.extend(response_urls(item))
    return found


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]
