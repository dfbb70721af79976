"""A small, honest fake of Discord on loopback: the REST routes the bot uses and a gateway.

The REST side records every request (method, path, JSON body, time) and answers with payloads
shaped like Discord's; the gateway speaks the protocol discord.py expects (HELLO, IDENTIFY →
READY + GUILD_CREATE, heartbeats ACKed) and lets a test dispatch INTERACTION_CREATE and
MESSAGE_CREATE. Frames are sent as text JSON (discord.py accepts them even when it asked for
compression).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.waiting import until

APP_ID = 900000000000000001
BOT_ID = APP_ID
GUILD_ID = 900000000000000100
CHANNEL_ID = 900000000000000200
USER_ID = 900000000000000300
API_PREFIX = "/api/v10"
TIMESTAMP = "2026-01-01T00:00:00.000000+00:00"


@dataclass
class _Refusal:
    status: int
    body: dict[str, Any]


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    at: float = field(default_factory=time.monotonic)


def user_payload(user_id: int = USER_ID, name: str = "ada") -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
    }


def text_channel(channel_id: int = CHANNEL_ID) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": "learning",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


class FakeDiscord:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.channels: dict[int, dict[str, Any]] = {CHANNEL_ID: text_channel()}
        self.messages: dict[int, dict[str, Any]] = {}
        self.sent: dict[int, list[dict[str, Any]]] = {}
        self._answered: set[str] = set()
        self.deleted: set[int] = set()  # channels (threads) a moderator deleted
        self.no_thread_permission = False  # the bot may not create threads here (403)
        self.sockets: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self.callback_delay = 0.0
        self._ids = itertools.count(950000000000000000)
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Awaitable[Any]]]] = [
            ("GET", re.compile(r"/users/@me"), self._me),
            ("GET", re.compile(r"/oauth2/applications/@me"), self._application),
            ("GET", re.compile(r"/gateway/bot"), self._gateway_bot),
            ("PUT", re.compile(r"/applications/\d+(/guilds/\d+)?/commands"), self._commands),
            ("POST", re.compile(r"/interactions/(\d+)/([^/]+)/callback"), self._callback),
            ("POST", re.compile(r"/webhooks/\d+/([^/]+)"), self._followup),
            ("PATCH", re.compile(r"/webhooks/\d+/([^/]+)/messages/(@original|\d+)"), self._edit),
            ("GET", re.compile(r"/webhooks/\d+/([^/]+)/messages/(@original|\d+)"), self._edit),
            ("POST", re.compile(r"/channels/(\d+)/messages"), self._send),
            ("PATCH", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._edit_message),
            ("POST", re.compile(r"/channels/(\d+)/threads"), self._create_thread),
            ("PUT", re.compile(r"/channels/(\d+)/thread-members/(\d+)"), self._no_content),
            ("POST", re.compile(r"/channels/(\d+)/typing"), self._no_content),
            ("PATCH", re.compile(r"/channels/(\d+)"), self._edit_channel),
            ("GET", re.compile(r"/channels/(\d+)"), self._get_channel),
        ]

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests look at ---------------------------------------------------------------------

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        regex = re.compile(pattern)
        return [r for r in self.requests if r.method == method and regex.fullmatch(r.path)]

    def callbacks(self, interaction_id: int) -> list[dict[str, Any]]:
        return [
            r.body for r in self.calls("POST", rf"/interactions/{interaction_id}/[^/]+/callback")
        ]

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages the bot posted in a channel, as the fake stored them (with ids)."""
        return list(self.sent.get(channel_id, []))

    def followups(self) -> list[dict[str, Any]]:
        return [r.body for r in self.calls("POST", r"/webhooks/\d+/[^/]+")]

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] in (11, 12)]

    async def wait_for(
        self, predicate: Callable[[], object], limit: float = 10.0, what: str = "condition"
    ) -> None:
        await until(predicate, what, limit)

    # -- the gateway ----------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self._seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self._seq, "d": data})
        for socket in list(self.sockets):
            if not socket.closed:
                await socket.send_str(frame)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for message in socket:
            if message.type is not WSMsgType.TEXT:
                break
            payload = json.loads(message.data)
            if payload["op"] == 1:
                await socket.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                await self._ready(socket)
        self.sockets.remove(socket)
        return socket

    async def _ready(self, socket: web.WebSocketResponse) -> None:
        self._seq += 1
        ready = {
            "v": 10,
            "user": {**user_payload(BOT_ID, "curiouscore"), "bot": True},
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": "fake-session",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
            "application": {"id": str(APP_ID), "flags": 0},
        }
        await socket.send_str(json.dumps({"op": 0, "t": "READY", "s": self._seq, "d": ready}))
        self._seq += 1
        guild = {
            "id": str(GUILD_ID),
            "name": "Learners",
            "owner_id": str(USER_ID),
            "channels": [self.channels[CHANNEL_ID]],
            "threads": [],
            "roles": [],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 2,
            "large": False,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "joined_at": TIMESTAMP,
            "voice_states": [],
            "presences": [],
        }
        await socket.send_str(
            json.dumps({"op": 0, "t": "GUILD_CREATE", "s": self._seq, "d": guild})
        )
        self.identified.set()

    # -- REST -----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
            else:  # multipart: discord.py puts the JSON in "payload_json"
                form = await request.post()
                raw = form.get("payload_json")
                body = json.loads(str(raw)) if raw is not None else None
        self.requests.append(Recorded(request.method, path, body))
        gone = re.match(r"/channels/(\d+)", path)
        if gone and int(gone.group(1)) in self.deleted:
            return _json({"message": "Unknown Channel", "code": 10003}, status=404)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and method == request.method:
                result = await handler(body, *match.groups())
                if isinstance(result, _Refusal):
                    return _json(result.body, status=result.status)
                if result is None:
                    return web.Response(status=204)
                return _json(result)
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    async def _me(self, body: Any) -> dict[str, Any]:
        return {**user_payload(BOT_ID, "curiouscore"), "bot": True}

    async def _application(self, body: Any) -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "CuriousCore",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_payload(USER_ID),
            "verify_key": "0" * 64,
            "flags": 0,
        }

    async def _gateway_bot(self, body: Any) -> dict[str, Any]:
        return {
            "url": f"ws://127.0.0.1:{self.port}/gateway",
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    async def _commands(self, body: Any, guild: str | None = None) -> list[dict[str, Any]]:
        return [
            {
                **command,
                "id": str(next(self._ids)),
                "application_id": str(APP_ID),
                "version": "1",
                "default_member_permissions": None,
                "type": command.get("type", 1),
            }
            for command in body
        ]

    async def _callback(self, body: Any, interaction_id: str, token: str) -> Any:
        if self.callback_delay:
            await asyncio.sleep(self.callback_delay)
        if interaction_id in self._answered:
            # Discord refuses a second response to one interaction.
            return _Refusal(
                400, {"message": "Interaction has already been acknowledged.", "code": 40060}
            )
        self._answered.add(interaction_id)
        kind = body["type"]
        flags = (body.get("data") or {}).get("flags", 0) or 0
        result: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & 64),
            }
        }
        if kind in (4, 7):
            message = self._message(0, body.get("data") or {})
            result["resource"] = {"type": kind, "message": message}
        elif kind in (5, 6):
            result["resource"] = {"type": kind}
        return result

    async def _followup(self, body: Any, token: str) -> dict[str, Any]:
        return self._message(CHANNEL_ID, body or {})

    async def _edit(self, body: Any, token: str, message_id: str) -> dict[str, Any]:
        return self._message(CHANNEL_ID, body or {})

    async def _send(self, body: Any, channel_id: str) -> dict[str, Any] | _Refusal:
        too_big = oversized(body or {})
        if too_big:
            return _Refusal(400, {"message": "Invalid Form Body", "code": 50035, "errors": too_big})
        message = self._message(int(channel_id), body or {})
        self.sent.setdefault(int(channel_id), []).append(message)
        return message

    async def _edit_message(self, body: Any, channel_id: str, message_id: str) -> dict[str, Any]:
        message = self.messages[int(message_id)]
        for key in ("content", "embeds", "components"):
            if body and key in body:
                message[key] = body[key] or ([] if key != "content" else "")
        return message

    async def _create_thread(self, body: Any, channel_id: str) -> dict[str, Any] | _Refusal:
        if self.no_thread_permission:
            return _Refusal(403, {"message": "Missing Permissions", "code": 50013})
        thread_id = next(self._ids)
        thread = {
            "id": str(thread_id),
            "guild_id": str(GUILD_ID),
            "parent_id": channel_id,
            "owner_id": str(BOT_ID),
            "name": body["name"],
            "type": body.get("type", 11),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": TIMESTAMP,
                "locked": False,
                "invitable": body.get("invitable", True),
            },
        }
        self.channels[thread_id] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def _edit_channel(self, body: Any, channel_id: str) -> dict[str, Any]:
        channel = self.channels[int(channel_id)]
        if "archived" in (body or {}):
            channel["thread_metadata"]["archived"] = body["archived"]
        return channel

    async def _get_channel(self, body: Any, channel_id: str) -> dict[str, Any]:
        return self.channels[int(channel_id)]

    async def _no_content(self, body: Any, *ids: str) -> None:
        return None

    def _message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        message_id = next(self._ids)
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": 0,
            "content": body.get("content") or "",
            "author": {**user_payload(BOT_ID, "curiouscore"), "bot": True},
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "flags": body.get("flags", 0) or 0,
        }
        self.messages[message_id] = message
        return message

    # -- interactions a test sends --------------------------------------------------------------

    def message_create(
        self, channel_id: int, content: str, user_id: int = USER_ID
    ) -> dict[str, Any]:
        """A learner's plain message, as the gateway delivers it with the message-content intent."""
        return {
            **self._message(channel_id, {"content": content}),
            "author": user_payload(user_id),
            "guild_id": str(GUILD_ID),
            "member": {"roles": [], "joined_at": TIMESTAMP, "deaf": False, "mute": False},
        }

    def forget_responses(self) -> None:
        """Accept a new response to interactions already answered."""
        self._answered.clear()

    def next_id(self) -> int:
        return next(self._ids)

    def interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        channel: dict[str, Any] | None = None,
        message: dict[str, Any] | None = None,
        user_id: int = USER_ID,
        interaction_id: int | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(interaction_id or self.next_id()),
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "guild_id": str(GUILD_ID),
            "channel": channel or self.channels[CHANNEL_ID],
            "channel_id": (channel or self.channels[CHANNEL_ID])["id"],
            "member": {
                "user": user_payload(user_id),
                "roles": [],
                "joined_at": TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": "2248473465835073",
            },
            "token": f"token-{self.next_id()}",
            "version": 1,
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10485760,
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
        }
        if message is not None:
            payload["message"] = message
        return payload


def embed_length(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards an embed's 6,000: title, description, fields, footer."""
    fields = embed.get("fields") or []
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
    )


def oversized(body: dict[str, Any]) -> str:
    """What Discord would refuse in a message body ("" when it is within every limit)."""
    embeds = body.get("embeds") or []
    if len(body.get("content") or "") > 2000:
        return "content over 2000"
    if len(embeds) > 10:
        return "more than 10 embeds"
    if sum(embed_length(e) for e in embeds) > 6000:
        return "embeds over 6000 characters in all"
    for embed in embeds:
        if len(embed.get("description") or "") > 4096 or len(embed.get("fields") or []) > 25:
            return "an embed over its description or field limit"
        for f in embed.get("fields") or []:
            if len(f.get("name") or "") > 256 or len(f.get("value") or "") > 1024:
                return "a field over its limit"
    return ""


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body only when Content-Type is exactly application/json, as Discord sends.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )
