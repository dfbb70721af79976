"""The account half of the store contract, on every store (in-memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio

from core.store.accounts import (
    AccountRecord,
    IdentityRecord,
    LinkCodeRecord,
    RefreshOutcome,
    RefreshTokenRecord,
)

T0 = "2026-01-01T00:00:00.000+00:00"
T1 = "2026-01-01T00:01:00.000+00:00"
LATER = "2026-01-02T00:00:00.000+00:00"


def account(learner_id: str = "ada", email: str = "ada@example.com") -> AccountRecord:
    return AccountRecord(learner_id, email, "$argon2id$hash", T0)


async def test_an_account_creates_its_learner_and_is_unique_by_email(store):
    assert await store.create_account(account(), "Ada")
    learner = await store.get_learner("ada")
    assert (learner.display_name, learner.role) == ("Ada", "learner")
    assert await store.get_account_by_email("ada@example.com") == account()
    assert await store.get_account("ada") == account()
    assert not await store.create_account(account("ada-2"), "Other Ada")
    assert await store.get_learner("ada-2") is None
    assert await store.get_account_by_email("nobody@example.com") is None


async def test_racing_registrations_with_one_email_store_one_account(store):
    results = await asyncio.gather(
        *(store.create_account(account(f"id-{i}"), f"A{i}") for i in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]


async def test_admin_role_and_password_hash_updates(store):
    await store.create_account(account(), "Ada", "admin")
    assert (await store.get_learner("ada")).role == "admin"
    assert await store.set_learner_role("ada", "learner")
    assert (await store.get_learner("ada")).role == "learner"
    assert not await store.set_learner_role("nobody", "admin")
    await store.set_password_hash("ada", "$argon2id$new")
    assert (await store.get_account("ada")).password_hash == "$argon2id$new"


async def test_a_refresh_token_is_spent_once(store):
    await store.add_refresh_token(RefreshTokenRecord("h1", "fam", "ada", T0, LATER))
    first = await store.use_refresh_token("h1", T1)
    assert first.outcome is RefreshOutcome.SPENT_NOW
    assert first.record.family_id == "fam" and first.record.spent_at is None
    again = await store.use_refresh_token("h1", T1)
    assert again.outcome is RefreshOutcome.ALREADY_SPENT
    assert again.record.spent_at == T1
    assert (await store.use_refresh_token("nope", T1)).outcome is RefreshOutcome.UNKNOWN


async def test_racing_refreshes_spend_a_token_exactly_once(store):
    await store.add_refresh_token(RefreshTokenRecord("h1", "fam", "ada", T0, LATER))
    uses = await asyncio.gather(*(store.use_refresh_token("h1", T1) for _ in range(6)))
    outcomes = sorted(use.outcome.value for use in uses)
    assert outcomes.count(RefreshOutcome.SPENT_NOW.value) == 1


async def test_revoking_a_family_revokes_all_its_tokens_only(store):
    for digest, family in [("a", "f1"), ("b", "f1"), ("c", "f2")]:
        await store.add_refresh_token(RefreshTokenRecord(digest, family, "ada", T0, LATER))
    assert await store.revoke_refresh_family("f1", T1) == 2
    assert await store.revoke_refresh_family("f1", T1) == 0
    assert (await store.use_refresh_token("a", T1)).outcome is RefreshOutcome.REVOKED
    assert (await store.use_refresh_token("c", T1)).outcome is RefreshOutcome.SPENT_NOW


async def test_identities_are_provisioned_once_and_can_be_relinked(store):
    identity = IdentityRecord("slack", "T1:U1", "slack:T1:U1", "ada", T0)
    assert await store.add_identity(identity)
    assert not await store.add_identity(IdentityRecord("slack", "T1:U1", "other", "x", T0))
    assert await store.get_identity("slack", "T1:U1") == identity
    await store.add_identity(IdentityRecord("discord", "9", "web-ada", "ada", T0))
    await store.relink_identity("slack", "T1:U1", "web-ada")
    linked = await store.list_identities("web-ada")
    assert [(i.platform, i.external_id) for i in linked] == [("discord", "9"), ("slack", "T1:U1")]
    assert await store.list_identities("slack:T1:U1") == []


async def test_a_link_code_is_redeemed_once_and_only_before_it_expires(store):
    await store.add_link_code(LinkCodeRecord("c1", "ada", T1))
    await store.add_link_code(LinkCodeRecord("c2", "ada", T1))
    redeemed = await store.use_link_code("c1", T0)
    assert redeemed is not None and redeemed.learner_id == "ada"
    assert await store.use_link_code("c1", T0) is None
    assert await store.use_link_code("c2", LATER) is None  # expired
    assert await store.use_link_code("unknown", T0) is None
