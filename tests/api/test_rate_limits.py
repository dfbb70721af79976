"""Sign-in limits that hold: atomic, shared by every worker, and fair to the account's owner."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.proxy import TrustedProxies
from core.bootstrap import ConfigurationError, Services
from core.store import InMemoryStore, migrate, open_store
from core.store.redis_rate_counters import RedisRateCounters
from tests.api.conftest import (
    PASSWORD,
    SECRET,
    api_settings,
    make_services,
    register,
    reset_postgres,
)
from tests.api.test_real_server import free_port
from tests.redis_support import delete_prefix, require_redis, unique_prefix

WRONG = {"email": "ada@example.com", "password": "not the password"}
RIGHT = {"email": "ada@example.com", "password": PASSWORD}


def an_address() -> str:
    return f"203.0.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture(
    params=[
        pytest.param("memory", id="in-process"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def services_on(backend: str, tmp_path: Path, **settings: object) -> Services:
    settings = {"forwarded_allow_ips": "127.0.0.1", **settings}
    if backend == "memory":
        return await make_services(InMemoryStore(), rate_limit_store="memory", **settings)
    if backend == "redis":
        url = await require_redis()
        services = await make_services(
            InMemoryStore(), redis_url=url, redis_key_prefix=unique_prefix(), **settings
        )
        assert isinstance(services.rate_counters, RedisRateCounters)  # "auto" picks Redis
        return services
    url = f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}" if backend == "sqlite" else None
    store = await open_store(url or await reset_postgres(), auto_migrate=True)
    services = await make_services(store, **settings)
    assert services.rate_counters is store  # "auto" picks the database
    return services


async def close(services: Services) -> None:
    await services.close()
    settings = services.settings
    if settings.redis_url is not None:
        await delete_prefix(settings.redis_url.get_secret_value(), settings.redis_key_prefix)


def client(services: Services) -> httpx.AsyncClient:
    app = create_app(services, services.settings)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_concurrent_wrong_passwords_from_one_address_pass_at_most_the_limit(
    backend: str, tmp_path: Path
) -> None:
    services = await services_on(backend, tmp_path)
    try:
        async with client(services) as http:
            await register(http)
            where = {"X-Forwarded-For": an_address()}
            responses = await asyncio.gather(
                *(http.post("/api/auth/login", json=WRONG, headers=where) for _ in range(30))
            )
    finally:
        await close(services)
    statuses = Counter(r.status_code for r in responses)
    assert statuses[401] <= 10, statuses
    assert statuses[401] + statuses[429] == 30, statuses


async def test_concurrent_wrong_passwords_from_many_addresses_stop_at_the_email_ceiling(
    backend: str, tmp_path: Path
) -> None:
    services = await services_on(backend, tmp_path, login_failures_per_email_per_hour=10)
    try:
        async with client(services) as http:
            await register(http)
            responses = await asyncio.gather(
                *(
                    http.post("/api/auth/login", json=WRONG, headers={"X-Forwarded-For": ip})
                    for ip in (f"198.18.0.{n}" for n in range(1, 31))
                )
            )
    finally:
        await close(services)
    statuses = Counter(r.status_code for r in responses)
    assert statuses[401] <= 10, statuses
    assert statuses[429] >= len(responses) - 10, statuses


async def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(
    backend: str, tmp_path: Path
) -> None:
    services = await services_on(backend, tmp_path)
    attacker, owner = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}
    try:
        async with client(services) as http:
            await register(http, "ada@example.com")
            for _ in range(10):
                response = await http.post("/api/auth/login", json=WRONG, headers=attacker)
                assert response.status_code == 401
            blocked = await http.post("/api/auth/login", json=RIGHT, headers=attacker)
            assert blocked.status_code == 429
            signed_in = await http.post("/api/auth/login", json=RIGHT, headers=owner)
            assert signed_in.status_code == 200, signed_in.text
    finally:
        await close(services)


async def test_successful_sign_ins_do_not_use_up_the_failure_allowance() -> None:
    services = await make_services(login_rate_limit_per_minute=3)
    try:
        async with client(services) as http:
            await register(http)
            http._transport.client = ("192.0.2.1", 1)  # type: ignore[attr-defined]
            for _ in range(2):
                assert (await http.post("/api/auth/login", json=WRONG)).status_code == 401
            http._transport.client = ("192.0.2.2", 1)  # type: ignore[attr-defined]
            for _ in range(3):  # every attempt counts per address: three, then 429
                assert (await http.post("/api/auth/login", json=RIGHT)).status_code == 200
            assert (await http.post("/api/auth/login", json=RIGHT)).status_code == 429
            # The successes from .2 freed their failure reservations: .1 still has one failure left.
            http._transport.client = ("192.0.2.1", 1)  # type: ignore[attr-defined]
            assert (await http.post("/api/auth/login", json=RIGHT)).status_code == 200
    finally:
        await services.close()


# -- who the client is: FORWARDED_ALLOW_IPS ---------------------------------------------------------


async def test_forwarded_for_from_an_untrusted_peer_is_ignored_even_on_loopback() -> None:
    services = await make_services(login_rate_limit_per_minute=3)  # FORWARDED_ALLOW_IPS unset
    try:
        async with client(services) as http:
            statuses = [
                (
                    await http.post(
                        "/api/auth/login", json=WRONG, headers={"X-Forwarded-For": an_address()}
                    )
                ).status_code
                for _ in range(4)
            ]
    finally:
        await services.close()
    assert statuses == [401, 401, 401, 429]  # one bucket: the spoofed addresses were not believed


async def test_forwarded_for_from_a_trusted_proxy_names_the_client() -> None:
    services = await make_services(login_rate_limit_per_minute=3, forwarded_allow_ips="127.0.0.1")
    try:
        async with client(services) as http:
            statuses = [
                (
                    await http.post(
                        "/api/auth/login", json=WRONG, headers={"X-Forwarded-For": an_address()}
                    )
                ).status_code
                for _ in range(4)
            ]
    finally:
        await services.close()
    assert statuses == [401, 401, 401, 401]


def test_only_the_hops_written_by_trusted_proxies_are_believed() -> None:
    proxies = TrustedProxies.parse("10.0.0.0/8, 192.168.1.1")
    # The client wrote "6.6.6.6"; the edge (10.0.0.5) appended the real address.
    assert proxies.client("10.0.0.5", "6.6.6.6, 198.51.100.4") == ("198.51.100.4", 1)
    # Two trusted hops: skip the inner proxy's own address.
    assert proxies.client("10.0.0.5", "6.6.6.6, 198.51.100.4, 192.168.1.1") == ("198.51.100.4", 2)
    # An untrusted peer's header means nothing.
    assert proxies.client("198.51.100.9", "1.2.3.4") == ("198.51.100.9", 0)
    # Garbage stops the walk at the last good address.
    assert proxies.client("10.0.0.5", "x, 198.51.100.4")[0] == "198.51.100.4"
    assert proxies.client("10.0.0.5", "junk") == ("10.0.0.5", 0)
    # "*": any peer, for its own hop only; what the client wrote further left is not believed.
    edge = TrustedProxies.parse("*")
    assert edge.client("100.64.3.2", "6.6.6.6, 198.51.100.4") == ("198.51.100.4", 1)
    assert not TrustedProxies.parse("").enabled
    with pytest.raises(ConfigurationError, match="FORWARDED_ALLOW_IPS"):
        TrustedProxies.parse("10.0.0.0/8, proxy.internal")


def test_an_invalid_forwarded_allow_ips_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="FORWARDED_ALLOW_IPS"):
        create_app(settings=api_settings(forwarded_allow_ips="not-an-address"))


# -- real processes: two uvicorn workers sharing Redis -------------------------------------------------


@pytest.mark.redis
async def test_two_uvicorn_workers_sharing_redis_hold_the_limit(tmp_path: Path) -> None:
    redis_url = await require_redis()
    prefix = unique_prefix()
    database = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}"
    env = {
        **os.environ,
        "ENV": "test",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "CHALLENGES_DIR": str(tmp_path / "no-challenges"),
    }
    (tmp_path / "no-challenges").mkdir()
    await migrate(database)
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-proxy-headers",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    email = f"{prefix.split(':')[1]}@example.com"
    attacker = an_address()
    try:
        limits = httpx.Limits(max_connections=40, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            deadline = time.monotonic() + 60
            while True:
                assert server.returncode is None, "the server exited"
                assert time.monotonic() < deadline, "the workers did not come up in 60 s"
                try:
                    if (await http.get("/livez")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            registered = await http.post(
                "/api/auth/register",
                json={"email": email, "password": PASSWORD, "display_name": "Ada"},
                headers={"X-Forwarded-For": an_address()},
            )
            assert registered.status_code == 201, registered.text
            wrong = {"email": email, "password": "not the password"}
            responses = await asyncio.gather(
                *(
                    http.post("/api/auth/login", json=wrong, headers={"X-Forwarded-For": attacker})
                    for _ in range(30)
                )
            )
    finally:
        server.terminate()
        try:
            await asyncio.wait_for(server.communicate(), timeout=20)
        except TimeoutError:
            server.kill()
            await server.communicate()
        await delete_prefix(redis_url, prefix)
    statuses = Counter(r.status_code for r in responses)
    assert statuses[401] <= 10, statuses
    assert statuses[401] + statuses[429] == 30, statuses


async def test_an_unreachable_redis_is_a_503_not_a_waived_limit() -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    services = await make_services(InMemoryStore(), redis_url=closed)
    try:
        async with client(services) as http:
            response = await http.post("/api/auth/login", json=WRONG)
    finally:
        await services.close()
    assert response.status_code == 503
    assert "Traceback" not in response.text
