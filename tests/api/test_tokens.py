"""Verified access tokens are kept per process (decoded once), but their expiry is checked on every
use, a tampered or foreign token is never taken from the cache, and the cache stays bounded.
Whether the token's version is still current is checked in the database on every request
(``test_revocation.py``: a signed-out token is refused at once)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import jwt
import pytest

from api import tokens as tokens_module
from api.tokens import LEEWAY_SECONDS, AccessTokens
from core.errors import Unauthorized
from core.store.base import AccessClaim

SECRET = secrets.token_urlsafe(48)


def signer(ttl: timedelta = timedelta(minutes=30)) -> AccessTokens:
    return AccessTokens(SECRET, ttl=ttl)


def counting_decode(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    decode = jwt.decode

    def recording(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens_module.jwt, "decode", recording)
    return calls


def test_a_token_is_decoded_once_and_names_the_same_learner_after(monkeypatch):
    calls = counting_decode(monkeypatch)
    issuer, access = signer(), signer()  # issued by another process with the same key
    token = issuer.issue("learner-1", "learner", version=3).token
    first, second = access.verify(token), access.verify(token)
    assert first == second
    assert first == AccessClaim("learner-1", "learner", 3)
    assert calls == [token]


def test_a_token_issued_here_is_never_decoded_and_names_what_it_was_issued_for(monkeypatch):
    calls = counting_decode(monkeypatch)
    access = signer()
    token = access.issue("learner-1", "admin", version=4).token
    assert access.verify(token) == AccessClaim("learner-1", "admin", 4)
    assert calls == []
    assert signer().verify(token) == AccessClaim("learner-1", "admin", 4)  # as decoded elsewhere


@pytest.mark.parametrize(("after_leeway", "works"), [(-0.001, True), (0.0, False)])
def test_a_token_issued_here_expires_at_its_exp_as_pyjwt_rules(monkeypatch, after_leeway, works):
    """PyJWT refuses a token once ``exp <= now - leeway``; the expiry kept at issue is the
    token's own ``exp`` (whole seconds), so the same rule holds to the millisecond."""
    calls = counting_decode(monkeypatch)
    access = signer(ttl=timedelta(minutes=1))
    token = access.issue("learner-1", "learner").token
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    calls.clear()
    monkeypatch.setattr(tokens_module.time, "time", lambda: expires + LEEWAY_SECONDS + after_leeway)
    if works:
        assert access.verify(token).learner_id == "learner-1"
    else:
        with pytest.raises(Unauthorized):
            access.verify(token)
    assert calls == []


def test_a_cached_token_is_refused_once_it_expires(monkeypatch):
    access = signer(ttl=timedelta(minutes=1))
    token = access.issue("learner-1", "learner").token
    access.verify(token)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(tokens_module.time, "time", lambda: expires + LEEWAY_SECONDS + 1)
    with pytest.raises(Unauthorized):
        access.verify(token)


def test_a_cached_token_within_the_leeway_still_works(monkeypatch):
    access = signer(ttl=timedelta(minutes=1))
    token = access.issue("learner-1", "learner").token
    access.verify(token)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(tokens_module.time, "time", lambda: expires + LEEWAY_SECONDS - 1)
    assert access.verify(token).learner_id == "learner-1"


def test_a_tampered_copy_of_a_cached_token_is_refused(monkeypatch):
    access = signer()
    token = access.issue("learner-1", "learner").token
    access.verify(token)
    header, _payload, signature = token.split(".")
    forged_claims = jwt.decode(token, options={"verify_signature": False}) | {"role": "admin"}
    forged_payload = jwt.encode(forged_claims, secrets.token_urlsafe(48), algorithm="HS256").split(
        "."
    )[1]
    for forged in (f"{header}.{forged_payload}.{signature}", token + "x", token[:-2]):
        with pytest.raises(Unauthorized):
            access.verify(forged)


def test_a_token_signed_by_another_process_key_is_refused_even_when_cached_there():
    mine, theirs = signer(), AccessTokens(secrets.token_urlsafe(48), ttl=timedelta(minutes=30))
    token = theirs.issue("learner-1", "admin").token
    assert theirs.verify(token).role == "admin"
    with pytest.raises(Unauthorized):
        mine.verify(token)


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(monkeypatch):
    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE_SIZE", 2)
    calls = counting_decode(monkeypatch)
    access = signer()
    a, b, c = (access.issue(f"learner-{n}", "learner").token for n in range(3))
    access.verify(a)
    access.verify(b)
    access.verify(a)  # a is now the most recently used
    access.verify(c)  # b goes
    calls.clear()
    access.verify(a)
    access.verify(c)
    assert calls == []
    access.verify(b)
    assert calls == [b]


def test_a_refused_token_is_never_cached(monkeypatch):
    calls = counting_decode(monkeypatch)
    access = signer()
    token = signer(ttl=timedelta(seconds=-LEEWAY_SECONDS - 2)).issue("learner-1", "learner").token
    for _ in range(2):
        with pytest.raises(Unauthorized):
            access.verify(token)
    assert calls == [token, token]
