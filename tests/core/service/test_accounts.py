"""AccountService: registration rules, sign-in, refresh families, admins, chat identities."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from core.bootstrap import build_services
from core.config import Settings
from core.errors import AlreadyExists, InvalidCredentials, InvalidInput, NotFound, Unauthorized
from core.service.accounts import check_password, normalise_email
from core.service.actor import Actor
from core.service.clock import FixedClock
from core.store import InMemoryStore

PASSWORD = "a sturdy passphrase"


@pytest.fixture
async def accounts():
    services = await build_services(
        Settings(database_url="memory://"),
        store=InMemoryStore(),
        clock=FixedClock(step_ms=60_000),
        password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    yield services.accounts
    await services.close()


def test_emails_are_normalised():
    assert normalise_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    for bad in ("", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@b@c.d"):
        with pytest.raises(InvalidInput):
            normalise_email(bad)


@pytest.mark.parametrize(
    "password",
    ["short", "password123", "zzzzzzzzzz", "ada@example.com", "ADA@example.com", "y" * 129],
)
def test_weak_passwords_are_refused(password):
    with pytest.raises(InvalidInput):
        check_password(password, "ada@example.com")


async def test_register_stores_an_argon2id_hash_never_the_password(accounts):
    signed = await accounts.register("Ada@Example.com", PASSWORD, "Ada")
    record = await accounts._store.get_account(signed.account.learner_id)
    assert record.password_hash.startswith("$argon2id$")
    assert PASSWORD not in record.password_hash
    assert signed.account.role == "learner"
    with pytest.raises(AlreadyExists):
        await accounts.register("ada@example.com", PASSWORD, "Ada again")


async def test_authenticate_gives_one_error_for_every_failure(accounts):
    await accounts.register("ada@example.com", PASSWORD, "Ada")
    messages = set()
    for email, password in [
        ("ada@example.com", "wrong password"),
        ("bob@example.com", PASSWORD),
        ("not an email", PASSWORD),
    ]:
        with pytest.raises(InvalidCredentials) as caught:
            await accounts.authenticate(email, password)
        messages.add(caught.value.message)
    assert len(messages) == 1
    signed = await accounts.authenticate("ADA@example.com", PASSWORD)
    assert signed.account.email == "ada@example.com"


async def test_refresh_tokens_rotate_and_a_reused_one_ends_the_family(accounts):
    signed = await accounts.register("ada@example.com", PASSWORD, "Ada")
    stored = await accounts._store.use_refresh_token("not-a-digest", "2026-01-01")
    assert stored.record is None  # the store only ever sees digests
    second = await accounts.refresh(signed.refresh_token)
    third = await accounts.refresh(second.refresh_token)
    with pytest.raises(Unauthorized):
        await accounts.refresh(signed.refresh_token)  # reuse
    with pytest.raises(Unauthorized):
        await accounts.refresh(third.refresh_token)  # the family is gone


async def test_an_expired_refresh_token_is_refused():
    services = await build_services(
        Settings(database_url="memory://", refresh_token_expire_days=1),
        store=InMemoryStore(),
        clock=FixedClock(step_ms=24 * 3600 * 1000),  # a day per reading
        password_hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    signed = await services.accounts.register("ada@example.com", PASSWORD, "Ada")
    with pytest.raises(Unauthorized):
        await services.accounts.refresh(signed.refresh_token)


async def test_admins_are_made_by_create_admin_or_promote_only(accounts):
    admin = await accounts.create_admin("root@example.com", PASSWORD, "Root")
    assert admin.role == "admin"
    with pytest.raises(AlreadyExists):
        await accounts.create_admin("root@example.com", PASSWORD, "Root")
    learner = await accounts.register("ada@example.com", PASSWORD, "Ada")
    assert learner.account.role == "learner"
    promoted = await accounts.promote("ADA@example.com")
    assert promoted.role == "admin"
    signed = await accounts.authenticate("ada@example.com", PASSWORD)
    assert signed.account.role == "admin"
    with pytest.raises(NotFound):
        await accounts.promote("nobody@example.com")
    with pytest.raises(InvalidInput):
        await accounts.promote("ada@example.com", "superuser")


async def test_chat_users_are_provisioned_once(accounts):
    first = await accounts.identity_for("discord", "1234", "Ada#1")
    again = await accounts.identity_for("DISCORD", " 1234 ", "renamed")
    assert first.learner_id == again.learner_id == "discord:1234"
    assert first.display_name == "Ada#1"
    nameless = await accounts.identity_for("slack", "T1:U9", "\u200b")
    assert nameless.display_name == "T1:U9"
    with pytest.raises(InvalidInput):
        await accounts.identity_for("Not A Platform!", "1", "x")


async def test_a_link_code_links_a_chat_user_once(accounts):
    web = await accounts.register("ada@example.com", PASSWORD, "Ada")
    actor = Actor(web.account.learner_id)
    await accounts.identity_for("slack", "T1:U1", "ada")
    code = await accounts.create_link_code(actor)
    linked = await accounts.link("slack", "T1:U1", code.code)
    assert linked.learner_id == actor.learner_id
    assert (await accounts.identity_for("slack", "T1:U1", "ada")).learner_id == actor.learner_id
    with pytest.raises(InvalidInput):
        await accounts.link("discord", "42", code.code)  # one use only
    # A first contact that starts with a link goes straight to the web learner.
    fresh = await accounts.create_link_code(actor)
    assert (await accounts.link("discord", "42", fresh.code.replace("-", " "))).learner_id == (
        actor.learner_id
    )
    profile = await accounts.profile(actor)
    assert [i.platform for i in profile.identities] == ["discord", "slack"]
    assert profile.email == "ada@example.com"


async def test_link_codes_expire(accounts):
    web = await accounts.register("ada@example.com", PASSWORD, "Ada")
    code = await accounts.create_link_code(Actor(web.account.learner_id))
    accounts._clock._now += accounts._link_code_ttl  # the fixed clock moves past expiry
    with pytest.raises(InvalidInput):
        await accounts.link("slack", "T1:U1", code.code)
