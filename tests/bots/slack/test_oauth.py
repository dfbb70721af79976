"""Multi-workspace installs: Slack's OAuth round trip, with installations and states in our database."""

from __future__ import annotations

import re
import time

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from bots.slack.installations import SqlInstallationStore, SqlOAuthStateStore, memory_stores
from core.store.engine import create_store_engine
from core.store.migrate import migrate
from tests.bots.slack.conftest import close_harness, open_harness
from tests.bots.slack.fake_slack import FakeSlack
from tests.core.store.conftest import SQL_BACKENDS, reset_postgres, sqlite_url_in

OAUTH = {"slack_bot_token": None, "slack_client_id": "111.222", "slack_client_secret": "shh"}


# slack_sdk still builds aiohttp's BasicAuth for oauth.v2.access, deprecated in aiohttp 3.14.
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_an_install_round_trip_then_the_new_workspace_is_served(fake_slack: FakeSlack):
    slack = await open_harness(fake_slack, **OAUTH)
    try:
        page = await slack.http.get("/slack/install")
        assert page.status_code == 200
        state = re.search(r"state=([\w-]+)", page.text).group(1)
        cookie = page.headers["set-cookie"].split(";")[0]
        assert "oauth/v2/authorize" in page.text and "client_id=111.222" in page.text

        forged = await slack.http.get(
            "/slack/oauth_redirect",
            params={"code": "c0de", "state": "forged"},
            headers={"Cookie": cookie},
        )
        assert forged.status_code == 400
        assert not fake_slack.of("oauth.v2.access")

        done = await slack.http.get(
            "/slack/oauth_redirect",
            params={"code": "c0de", "state": state},
            headers={"Cookie": cookie},
        )
        assert done.status_code == 200, done.text
        (access,) = fake_slack.of("oauth.v2.access")
        assert access.params["code"] == "c0de"

        again = await slack.http.get(
            "/slack/oauth_redirect",
            params={"code": "c0de", "state": state},
            headers={"Cookie": cookie},
        )
        assert again.status_code in (400, 401)  # a state is spent once
        assert len(fake_slack.of("oauth.v2.access")) == 1

        slack.team = "T0OTHER"
        response = await slack.command("play quiz")
        assert response.status_code == 200
        posts = await fake_slack.wait_calls("chat.postMessage", 1)
        assert posts[0].headers["Authorization"] == "Bearer xoxb-installed-token"
    finally:
        await close_harness(slack)


async def test_a_workspace_that_never_installed_is_refused(fake_slack: FakeSlack):
    slack = await open_harness(fake_slack, **OAUTH)
    try:
        slack.team = "T0UNKNOWN"
        response = await slack.command("help")
        assert response.status_code == 200  # bolt answers with its "not installed" message
        assert not fake_slack.of("chat.postMessage")
    finally:
        await close_harness(slack)


def _installation(team: str, user: str, token: str, at: float) -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        user_id=user,
        bot_token=token,
        bot_id="B1",
        bot_user_id="UB",
        bot_scopes="commands",
        installed_at=at,
    )


async def _exercise(installations: SqlInstallationStore, states: SqlOAuthStateStore) -> None:
    await installations.async_save(_installation("T1", "U1", "xoxb-1", time.time()))
    await installations.async_save(_installation("T1", "U2", "xoxb-2", time.time() + 1))
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-2"  # the latest install wins
    first = await installations.async_find_installation(
        enterprise_id=None, team_id="T1", user_id="U1"
    )
    assert first is not None and first.user_id == "U1" and first.bot_token == "xoxb-2"
    assert await installations.async_find_bot(enterprise_id=None, team_id="T2") is None
    # A thread's scope (team id, or enterprise id of an org-wide install) finds its bot too.
    grid = _installation("T3", "U3", "xoxb-3", time.time())
    grid.enterprise_id = "E1"
    org = _installation("", "U4", "xoxb-4", time.time())
    org.enterprise_id, org.team_id, org.is_enterprise_install = "E2", None, True
    for installation in (grid, org):
        await installations.async_save(installation)
    for scope, token in (("T1", "xoxb-2"), ("T3", "xoxb-3"), ("E2", "xoxb-4")):
        found = await installations.bot_for_scope(scope)
        assert found is not None and found.bot_token == token
    assert await installations.bot_for_scope("T2") is None
    assert await installations.bot_for_scope("") is None
    await installations.async_delete_all(enterprise_id=None, team_id="T1")
    assert await installations.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await installations.bot_for_scope("T1") is None

    state = await states.async_issue()
    assert await states.async_consume(state)
    assert not await states.async_consume(state)
    states.expiration_seconds = -1
    stale = await states.async_issue()
    assert not await states.async_consume(stale)


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_installation_and_state_stores_on_sql(backend, tmp_path):
    url = sqlite_url_in(tmp_path) if backend == "sqlite" else await reset_postgres()
    await migrate(url)
    engine = create_store_engine(url)
    try:
        await _exercise(SqlInstallationStore(engine, "111.222"), SqlOAuthStateStore(engine))
    finally:
        await engine.dispose()


async def test_installation_and_state_stores_in_memory():
    installations, states, engine = await memory_stores("111.222")
    try:
        await _exercise(installations, states)
    finally:
        await engine.dispose()
