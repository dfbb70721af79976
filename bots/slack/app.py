"""Building the bolt ``AsyncApp``: single-workspace (``SLACK_BOT_TOKEN``) or multi-workspace OAuth."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.common.locks import DeliveryLocks
from bots.common.pushes import PUSH_INTERVAL, follow_pushes
from bots.slack.conversation import PLATFORM, Conversation
from bots.slack.installations import SqlInstallationStore, memory_stores, sql_stores
from bots.slack.listeners import register
from bots.slack.poster import (
    EDIT_BURST,
    EDIT_INTERVAL,
    PACE_PREFIX,
    ChannelPacer,
    Poster,
    RedisBuckets,
)
from bots.slack.verification import DatabaseClaims, RedisClaims, ReplayClaims, RequestGuard
from core.bootstrap import ConfigurationError, Services
from core.config import Settings
from core.store.chat import ChatThread

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter is not None else None


def socket_mode(settings: Settings) -> bool:
    """Socket Mode (no public URL) when an app-level token is set; otherwise HTTP mode."""
    return settings.slack_app_token is not None


def multi_workspace(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret) and not socket_mode(
        settings
    )


def configured(settings: Settings) -> bool:
    """True when Slack settings are there to run the bot at all."""
    return settings.slack_bot_token is not None or multi_workspace(settings)


def web_client(settings: Settings, token: str | None = None) -> AsyncWebClient:
    """A Web API client on ``SLACK_API_URL`` that retries connection errors and 429s."""
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else settings.slack_api_url + "/"
    )
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=30,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def check_settings(settings: Settings) -> None:
    """Raise ``ConfigurationError`` naming what is missing for the chosen mode."""
    if not configured(settings):
        raise ConfigurationError(
            "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"
        )
    if not socket_mode(settings) and settings.slack_signing_secret is None:
        raise ConfigurationError(
            "SLACK_SIGNING_SECRET is needed in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )


class WorkspaceClients:
    """The Web API client speaking for a thread's workspace, for deliveries no Slack request
    carries (catch-up at start, pushes): the app's own client with one workspace's token; in OAuth
    mode, a client with the bot token the installation store holds for the thread's workspace, or
    None (logged, the thread skipped) once the app was uninstalled there."""

    def __init__(
        self,
        settings: Settings,
        client: AsyncWebClient,
        installations: SqlInstallationStore | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._installations = installations
        self._by_token: dict[str, AsyncWebClient] = {}

    async def __call__(self, thread: ChatThread) -> AsyncWebClient | None:
        if self._installations is None:
            return self._client
        bot = await self._installations.bot_for_scope(thread.scope_id)
        if bot is None:
            log.warning(
                "Slack app not installed in workspace %s: session %s skipped",
                thread.scope_id,
                thread.session_id,
            )
            return None
        client = self._by_token.get(bot.bot_token)
        if client is None:
            if len(self._by_token) > 1_000:
                self._by_token.clear()  # rotated and uninstalled tokens do not pile up
            client = self._by_token[bot.bot_token] = web_client(self._settings, bot.bot_token)
        return client


@dataclass(slots=True)
class SlackBot:
    app: AsyncApp
    conversation: Conversation
    oauth_engine: AsyncEngine | None = None
    # HTTP mode's checks before bolt (bots/slack/verification.py); None in Socket Mode.
    guard: RequestGuard | None = None
    slack_api_url: str = "https://slack.com/api/"
    drain_seconds: float = 20.0

    async def aclose(self) -> None:
        """Let running actions (gradings) finish within ``drain_seconds``, then close; what is
        cut short was recorded and is delivered by the next start's catch-up."""
        await self.conversation.work.drain(self.drain_seconds)
        await self.conversation.poster.aclose()
        await self.conversation.locks.aclose()
        if self.guard is not None:
            await self.guard.aclose()
        if self.oauth_engine is not None:
            await self.oauth_engine.dispose()


def request_guard(services: Services) -> RequestGuard | None:
    """The signature/replay guard for HTTP mode; replay claims in Redis when ``REDIS_URL`` is set."""
    settings = services.settings
    secret = _secret(settings.slack_signing_secret)
    if socket_mode(settings) or not secret:
        return None
    claims: ReplayClaims = (
        RedisClaims.from_url(settings.redis_url.get_secret_value())
        if settings.redis_url
        else DatabaseClaims(services.chat)
    )
    return RequestGuard(secret, claims)


def poster(settings: Settings, interval: float, burst: int) -> Poster:
    """Posts paced per channel (and edits apart), in Redis when ``REDIS_URL`` is set."""
    if not settings.redis_url:
        return Poster(ChannelPacer(interval, burst=burst))
    url = settings.redis_url.get_secret_value()
    posts = RedisBuckets.from_url(url, interval, burst)
    edits = RedisBuckets.from_url(url, EDIT_INTERVAL, EDIT_BURST, PACE_PREFIX + "edit:")
    return Poster(
        ChannelPacer(interval, buckets=posts),
        edits=ChannelPacer(EDIT_INTERVAL, buckets=edits),
    )


async def build_bot(
    services: Services,
    *,
    message_interval: float = 1.0,
    message_burst: int = 10,
    drain_seconds: float = 20.0,
    catch_up: bool = True,
    push_interval: float = PUSH_INTERVAL,
) -> SlackBot:
    """The bolt app with every listener registered, for Socket Mode or HTTP mode.

    Posts are paced per channel (a burst of ``message_burst``, then one per
    ``message_interval`` seconds). Threads left unfinished by the last run are caught up in the
    background, and the event log is followed (every ``push_interval`` seconds) for what changed
    without the bot, e.g. a teacher's review; in OAuth mode each thread is delivered with its
    workspace's bot token from the installation store. Raises ``ConfigurationError`` naming the
    missing setting.
    """
    settings = services.settings
    check_settings(settings)
    signing_secret = _secret(settings.slack_signing_secret)
    engine = None
    installations: SqlInstallationStore | None = None
    if multi_workspace(settings):
        client_id = str(settings.slack_client_id)
        if services.settings.database_url == "memory://":
            installations, states, engine = await memory_stores(client_id)
        else:
            installations, states, engine = sql_stores(settings.database_url, client_id)
        app = AsyncApp(
            client=web_client(settings),
            signing_secret=signing_secret or "",
            oauth_settings=AsyncOAuthSettings(
                client_id=client_id,
                client_secret=_secret(settings.slack_client_secret),
                scopes=[s.strip() for s in settings.slack_scopes.split(",") if s.strip()],
                installation_store=installations,
                state_store=states,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
            ),
        )
    else:
        token = _secret(settings.slack_bot_token)
        app = AsyncApp(client=web_client(settings, token), signing_secret=signing_secret or "")
    conversation = Conversation(
        services,
        poster(settings, message_interval, message_burst),
        locks=DeliveryLocks.for_services(services),
    )
    register(app, conversation)
    if catch_up:
        clients = WorkspaceClients(settings, app.client, installations)
        conversation.work.spawn(conversation.catch_up_all(clients), name="slack-catch-up")
        conversation.work.spawn(
            follow_pushes(
                services.chat,
                PLATFORM,
                functools.partial(conversation.push, clients),
                conversation.work,
                interval=push_interval,
            ),
            name="slack-pushes",
        )
    return SlackBot(
        app,
        conversation,
        engine,
        guard=request_guard(services),
        slack_api_url=settings.slack_api_url,
        drain_seconds=drain_seconds,
    )
