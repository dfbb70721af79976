"""Guessable passwords and signing keys are refused by zxcvbn's estimate, saying why."""

from __future__ import annotations

import secrets

import pytest

from core.errors import InvalidInput
from core.service.accounts import check_password
from core.service.passwords import CHECKED_CHARS, password_weakness, secret_key_weakness


@pytest.mark.parametrize("password", ["Passw0rd!", "qwerty12", "welcome1", "football"])
def test_common_and_breached_passwords_are_refused_saying_why(password):
    with pytest.raises(InvalidInput) as refused:
        check_password(password, "ada@example.com")
    message = refused.value.message
    assert "too easy to guess" in message and "common" in message
    assert password.lower() not in message.lower()


@pytest.mark.parametrize(
    "password",
    ["a sturdy passphrase", "correct horse battery staple", "xk9#mQ2!vL-7"],
)
def test_passphrases_and_random_passwords_are_accepted(password):
    check_password(password, "ada@example.com")


def test_the_email_counts_as_a_guessable_word():
    assert password_weakness("lovelace2024", ("lovelace@example.com", "lovelace")) is not None


def test_a_long_password_is_judged_by_its_first_characters():
    assert password_weakness("password" * 16) is not None
    assert password_weakness(secrets.token_urlsafe(96)) is None
    assert CHECKED_CHARS <= 72  # zxcvbn's own limit


@pytest.mark.parametrize(
    "key",
    ["a" * 32, "x" * 64, "password" * 4, "abcdefghijklmnopqrstuvwxyz012345", "ab" * 32],
)
def test_guessable_signing_keys_are_refused(key):
    reason = secret_key_weakness(key)
    assert reason is not None and key not in reason


def test_random_signing_keys_are_accepted():
    for _ in range(50):
        assert secret_key_weakness(secrets.token_hex(16)) is None
        assert secret_key_weakness(secrets.token_urlsafe(32)) is None
