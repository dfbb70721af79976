"""Sign-outs take effect at once: sign-out, refresh-family revocation and demotion each end the
access tokens already issued. The SPA's refresh token lives in an HttpOnly cookie."""

from __future__ import annotations

import httpx

from api.app import create_app
from api.routes.auth import REFRESH_COOKIE
from core.bootstrap import Services
from tests.api.conftest import PASSWORD, admin, make_services, register


async def me_status(http: httpx.AsyncClient, access_token: str) -> int:
    response = await http.get("/api/me", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


async def test_logout_ends_the_access_token_at_once(any_client):
    learner = await register(any_client)
    assert await me_status(any_client, learner.access_token) == 200
    response = await any_client.post(
        "/api/auth/logout", json={"refresh_token": learner.refresh_token}
    )
    assert response.status_code == 204
    assert await me_status(any_client, learner.access_token) == 401
    again = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
    )
    assert again.status_code == 401


async def test_refresh_token_reuse_ends_every_access_token_of_the_learner(any_client):
    learner = await register(any_client)
    rotated = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
    )
    assert rotated.status_code == 200
    new_access = rotated.json()["access_token"]
    assert await me_status(any_client, new_access) == 200
    # The spent token comes back: it leaked. The family is revoked and its access tokens die.
    reuse = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
    )
    assert reuse.status_code == 401
    assert await me_status(any_client, new_access) == 401
    assert await me_status(any_client, learner.access_token) == 401


async def test_demotion_ends_the_admin_access_token_at_once(any_services: Services):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(any_services, any_services.settings)),
        base_url="http://testserver",
    ) as http:
        root = await admin(http, any_services)
        analytics = await http.get("/api/admin/analytics", headers=root.headers)
        assert analytics.status_code == 200
        await any_services.accounts.promote("root@example.com", "learner")
        assert (await http.get("/api/admin/analytics", headers=root.headers)).status_code == 401
        # Signing in again gives a token with the new role.
        login = await http.post(
            "/api/auth/login", json={"email": "root@example.com", "password": PASSWORD}
        )
        token = login.json()["access_token"]
        demoted = await http.get(
            "/api/admin/analytics", headers={"Authorization": f"Bearer {token}"}
        )
        assert demoted.status_code == 403


async def test_a_sign_out_elsewhere_does_not_stop_other_sign_ins_from_refreshing(any_client):
    phone = await register(any_client)
    laptop = (
        await any_client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
    ).json()
    await any_client.post("/api/auth/logout", json={"refresh_token": phone.refresh_token})
    # The laptop's access token ended with the account's token version, but its sign-in lives on.
    assert await me_status(any_client, laptop["access_token"]) == 401
    renewed = await any_client.post(
        "/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]}
    )
    assert renewed.status_code == 200
    assert await me_status(any_client, renewed.json()["access_token"]) == 200


# -- the SPA's cookie ---------------------------------------------------------------------------


def spa_client(services: Services) -> httpx.AsyncClient:
    # https: httpx (like a browser) sends a Secure cookie only over a secure origin.
    app = create_app(services, services.settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def test_the_spa_gets_its_refresh_token_only_in_an_httponly_strict_cookie():
    services = await make_services()
    try:
        async with spa_client(services) as http:
            response = await http.post(
                "/api/auth/register",
                json={"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada"},
                headers={"X-Refresh-Cookie": "1"},
            )
            assert response.status_code == 201
            assert response.json()["refresh_token"] is None
            cookie = response.headers["set-cookie"]
            assert cookie.startswith(f"{REFRESH_COOKIE}=")
            attributes = {part.strip().lower() for part in cookie.split(";")}
            assert {"httponly", "secure", "samesite=strict", "path=/api/auth"} <= attributes
            first_cookie = http.cookies.get(REFRESH_COOKIE)
            assert first_cookie

            # The page reloads: the access token was only in memory; the cookie brings it back.
            refreshed = await http.post("/api/auth/refresh")
            assert refreshed.status_code == 200, refreshed.text
            assert refreshed.json()["refresh_token"] is None
            assert http.cookies.get(REFRESH_COOKIE) not in (None, first_cookie)  # rotated
            access = refreshed.json()["access_token"]
            assert await me_status(http, access) == 200

            out = await http.post("/api/auth/logout")
            assert out.status_code == 204
            assert REFRESH_COOKIE in out.headers["set-cookie"]
            assert "max-age=0" in out.headers["set-cookie"].lower()
            assert http.cookies.get(REFRESH_COOKIE) is None
            assert await me_status(http, access) == 401
            assert (await http.post("/api/auth/refresh")).status_code == 401
    finally:
        await services.close()


async def test_api_clients_still_get_the_pair_in_json_and_no_cookie(client):
    response = await client.post(
        "/api/auth/register",
        json={"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada"},
    )
    assert response.status_code == 201
    assert response.json()["refresh_token"]
    assert "set-cookie" not in response.headers
