"""Registration, sign-in, access tokens, refresh rotation and reuse detection, rate limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher

from tests.api.conftest import PASSWORD, SECRET, client_for, make_services, register


async def test_register_returns_a_token_pair(client):
    response = await client.post(
        "/api/auth/register",
        json={"email": " Ada@Example.COM ", "password": PASSWORD, "display_name": " Ada  L. "},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert body["refresh_token"] and body["access_token"]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["display_name"] == "Ada L."


async def test_access_token_claims(client):
    learner = await register(client)
    claims = jwt.decode(learner.access_token, SECRET, algorithms=["HS256"], issuer="curiouscore")
    assert {"iat", "exp", "jti", "sub", "role"} <= set(claims)
    assert claims["role"] == "learner"
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert jwt.get_unverified_header(learner.access_token)["alg"] == "HS256"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("password", "short", "at least 8"),
        ("password", "password1", "too easy"),
        ("password", "aaaaaaaaaaaa", "too easy"),
        ("password", "x" * 129, "at most 128"),
        ("email", "not-an-email", "valid email"),
        ("display_name", "   ", "display name"),
        ("display_name", "a\u202eb", "control"),
    ],
)
async def test_register_rejects_bad_input(client, field, value, words):
    body = {"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada", field: value}
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert words in response.json()["detail"]


async def test_register_twice_with_one_email_is_a_conflict(client):
    await register(client, "ada@example.com")
    response = await client.post(
        "/api/auth/register",
        json={"email": "ADA@example.com", "password": PASSWORD, "display_name": "Other"},
    )
    assert response.status_code == 409


async def test_registering_never_makes_an_admin_nor_sets_xp(client):
    response = await client.post(
        "/api/auth/register",
        json={
            "email": "eve@example.com",
            "password": PASSWORD,
            "display_name": "Eve",
            "role": "admin",
            "xp": 100000,
            "level": 99,
        },
    )
    assert response.status_code == 201
    token = response.json()["access_token"]
    me = (await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert (me["role"], me["xp"], me["level"]) == ("learner", 0, 1)
    assert (
        jwt.decode(token, SECRET, algorithms=["HS256"], issuer="curiouscore")["role"] == "learner"
    )


async def test_login_with_json_and_with_the_oauth2_form(client):
    await register(client)
    by_json = await client.post(
        "/api/auth/login", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert by_json.status_code == 200
    by_form = await client.post(
        "/api/auth/login",
        data={"username": "ada@example.com", "password": PASSWORD, "grant_type": "password"},
    )
    assert by_form.status_code == 200
    assert by_form.json()["token_type"] == "bearer"


async def test_login_failures_look_the_same_for_unknown_email_and_wrong_password(client):
    await register(client)
    wrong_password = await client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "not the password"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "not the password"}
    )
    malformed_email = await client.post(
        "/api/auth/login", json={"email": "nobody", "password": "not the password"}
    )
    assert wrong_password.status_code == unknown_email.status_code == malformed_email.status_code
    assert wrong_password.status_code == 401
    assert wrong_password.json() == unknown_email.json() == malformed_email.json()
    assert wrong_password.headers["WWW-Authenticate"] == "Bearer"


async def test_an_unknown_email_still_costs_a_password_check(services):
    """Timing: the dummy hash is verified when the email is unknown, like a real one."""
    calls = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash, password):
            calls.append(hash)
            return super().verify(hash, password)

    services.accounts._hasher = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with client_for(services) as client:
        await client.post(
            "/api/auth/login", json={"email": "nobody@example.com", "password": "x" * 9}
        )
        await register(client)
        await client.post("/api/auth/login", json={"email": "ada@example.com", "password": "x" * 9})
    assert len(calls) == 2
    assert all(h.startswith("$argon2id$") for h in calls)


async def test_login_is_rate_limited_per_ip_with_retry_after():
    services = await make_services(login_rate_limit_per_minute=3)
    async with client_for(services) as client:
        await register(client)
        statuses = []
        for _ in range(4):
            response = await client.post(
                "/api/auth/login", json={"email": "ada@example.com", "password": "wrong one!"}
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        # A sliding-window counter: the full window still weighs on the next one for a while.
        assert 1 <= int(response.headers["Retry-After"]) <= 2 * 60
        assert "too many attempts" in response.json()["detail"]
        # The right password is refused too while the window is full.
        blocked = await client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert blocked.status_code == 429
    await services.close()


async def test_login_failures_are_limited_per_email_across_ips():
    services = await make_services(login_failures_per_email_per_hour=2)
    async with client_for(services) as client:
        await register(client)
        for ip in ("10.0.0.1", "10.0.0.2"):
            client._transport.client = (ip, 1234)  # type: ignore[attr-defined]
            response = await client.post(
                "/api/auth/login", json={"email": "ada@example.com", "password": "wrong one!"}
            )
            assert response.status_code == 401
        client._transport.client = ("10.0.0.3", 1234)  # type: ignore[attr-defined]
        response = await client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert response.status_code == 429
        assert "Retry-After" in response.headers
    await services.close()


async def test_register_is_rate_limited_per_ip():
    services = await make_services(register_rate_limit_per_hour=2)
    async with client_for(services) as client:
        await register(client, "a@example.com")
        await register(client, "b@example.com")
        response = await client.post(
            "/api/auth/register",
            json={"email": "c@example.com", "password": PASSWORD, "display_name": "C"},
        )
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0
    await services.close()


async def test_refresh_rotates_the_pair_and_spends_the_old_token(any_client):
    learner = await register(any_client)
    first = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
    )
    assert first.status_code == 200
    pair = first.json()
    assert pair["refresh_token"] != learner.refresh_token
    me = await any_client.get(
        "/api/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200
    second = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert second.status_code == 200


async def test_reusing_a_spent_refresh_token_revokes_its_whole_family(any_client):
    learner = await register(any_client)
    other_device = await any_client.post(
        "/api/auth/login", json={"email": learner.email, "password": PASSWORD}
    )
    rotated = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
    )
    newest = rotated.json()["refresh_token"]
    # The spent token comes back (stolen): refused, and the family it belongs to ends.
    reuse = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
    )
    assert reuse.status_code == 401
    after = await any_client.post("/api/auth/refresh", json={"refresh_token": newest})
    assert after.status_code == 401
    # Another sign-in (another family) is untouched.
    elsewhere = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": other_device.json()["refresh_token"]}
    )
    assert elsewhere.status_code == 200


async def test_unknown_or_garbage_refresh_tokens_are_401(client):
    for token in ("nope", "x" * 300, ""):
        response = await client.post("/api/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401


async def test_logout_ends_the_refresh_family(any_client):
    learner = await register(any_client)
    response = await any_client.post(
        "/api/auth/logout", json={"refresh_token": learner.refresh_token}
    )
    assert response.status_code == 204
    assert response.content == b""
    again = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
    )
    assert again.status_code == 401
    unknown = await any_client.post("/api/auth/logout", json={"refresh_token": "whatever"})
    assert unknown.status_code == 204


def _token(claims: dict, key: str = SECRET, algorithm: str = "HS256") -> str:
    now = datetime.now(UTC)
    base = {
        "iss": "curiouscore",
        "sub": "someone",
        "role": "admin",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "j",
        "typ": "access",
    }
    return jwt.encode({**base, **claims}, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            _token({}, key="another-secret-that-is-long-enough-for-hs256-and-then-some-00000000"),
            id="wrong-key",
        ),
        pytest.param(_token({"exp": datetime.now(UTC) - timedelta(minutes=1)}), id="expired"),
        pytest.param(_token({"typ": "refresh"}), id="not-an-access-token"),
        pytest.param(_token({}, algorithm="HS512"), id="other-algorithm"),
        pytest.param(
            jwt.encode({"sub": "x", "role": "admin"}, None, algorithm="none"), id="alg-none"
        ),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
async def test_bad_access_tokens_are_401(client, token):
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_protected_endpoints_need_a_token(client):
    for method, path in [
        ("GET", "/api/me"),
        ("GET", "/api/sessions"),
        ("POST", "/api/sessions"),
        ("GET", "/api/admin/analytics"),
        ("POST", "/api/me/link-code"),
    ]:
        response = await client.request(method, path, json={"challenge_id": "quiz"})
        assert response.status_code == 401, path
        assert response.json() == {"detail": "sign in first"}
