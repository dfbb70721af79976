"""``curiouscore admin create|promote`` and the ``serve``/``up`` commands' wiring."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.bootstrap import build_services
from core.config import Settings
from core.errors import InvalidCredentials

PASSWORD = "a sturdy passphrase"


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


def sign_in(url: str, email: str, password: str):
    async def work():
        services = await build_services(Settings(database_url=url))
        try:
            return await services.accounts.authenticate(email, password)
        finally:
            await services.close()

    return asyncio.run(work())


def test_admin_create_reads_the_password_from_stdin(db):
    result = CliRunner().invoke(
        app,
        ["admin", "create", "--email", "Root@Example.com", "--password-stdin", "--name", "Root"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "root@example.com" in result.output
    assert PASSWORD not in result.output
    assert sign_in(db, "root@example.com", PASSWORD).account.role == "admin"
    again = CliRunner().invoke(
        app, ["admin", "create", "--email", "root@example.com", "--password-stdin"], input=PASSWORD
    )
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_admin_create_prompts_twice_and_checks_the_password(db):
    result = CliRunner().invoke(
        app, ["admin", "create", "--email", "root@example.com"], input="short\nshort\n"
    )
    assert result.exit_code == 1
    assert "at least 8" in result.output
    with pytest.raises(InvalidCredentials):
        sign_in(db, "root@example.com", "short")


def test_admin_promote_an_existing_account(db):
    async def register():
        services = await build_services(Settings(database_url=db))
        try:
            await services.accounts.register("ada@example.com", PASSWORD, "Ada")
        finally:
            await services.close()

    asyncio.run(register())
    result = CliRunner().invoke(app, ["admin", "promote", "ADA@example.com"])
    assert result.exit_code == 0, result.output
    assert "ada@example.com is now admin" in result.output
    assert sign_in(db, "ada@example.com", PASSWORD).account.role == "admin"
    missing = CliRunner().invoke(app, ["admin", "promote", "nobody@example.com"])
    assert missing.exit_code == 1


def test_admin_promote_makes_a_reviewer(db):
    async def register():
        services = await build_services(Settings(database_url=db))
        try:
            await services.accounts.register("rita@example.com", PASSWORD, "Rita")
        finally:
            await services.close()

    asyncio.run(register())
    result = CliRunner().invoke(app, ["admin", "promote", "rita@example.com", "--role", "reviewer"])
    assert result.exit_code == 0, result.output
    assert "rita@example.com is now reviewer" in result.output
    signed_in = sign_in(db, "rita@example.com", PASSWORD)
    assert signed_in.account.role == "reviewer"


def test_serve_refuses_a_missing_secret_outside_development(db, monkeypatch):
    monkeypatch.setenv("ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "SECRET_KEY" in result.output


def test_up_and_serve_are_listed():
    result = CliRunner().invoke(app, ["--help"])
    assert "serve" in result.output and "up" in result.output and "admin" in result.output
