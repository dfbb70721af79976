"""Client addresses behind trusted proxies (``FORWARDED_ALLOW_IPS``).

``X-Forwarded-For`` is believed only when the connecting peer is a trusted proxy, and then only as
far as the chain of trusted proxies goes: reading the header from the right (the entry the nearest
proxy appended), each entry that is itself a trusted proxy is skipped and the first one that is not
is the client. Entries further left were written by the client and are never believed. ``*``
trusts whatever peer connects, for its own hop only (a platform edge such as Railway's, whose
addresses are not published); listed addresses and networks are trusted for their hops. Nobody is
trusted by default, loopback included. The scheme follows ``X-Forwarded-Proto`` the same way.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from core.bootstrap import ConfigurationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The parsed ``FORWARDED_ALLOW_IPS``: networks, and whether any peer is trusted (``*``)."""

    networks: tuple[Network, ...] = ()
    any_peer: bool = False

    @classmethod
    def parse(cls, value: str) -> TrustedProxies:
        networks: list[Network] = []
        any_peer = False
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            if item == "*":
                any_peer = True
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"FORWARDED_ALLOW_IPS: {item!r} is not an IP address, a network such as "
                    "10.0.0.0/8, or *"
                ) from None
        return cls(tuple(networks), any_peer)

    @property
    def enabled(self) -> bool:
        return self.any_peer or bool(self.networks)

    def listed(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str) -> tuple[str, int]:
        """The client address and how many proxy hops were believed (0: the peer itself)."""
        if not (self.any_peer or self.listed(peer)):
            return peer, 0
        hops = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
        believed = 0
        client = peer
        for entry in reversed(hops):
            if _address(entry) is None:
                break  # garbage (or an obfuscated identifier): stop at the last good address
            client = entry
            believed += 1
            if not self.listed(entry):
                break
        return client, believed


class TrustedProxyMiddleware:
    """Rewrites the ASGI ``client`` (and ``scheme``) from the forwarded headers of trusted proxies."""

    def __init__(self, app: ASGIApp, *, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("client"):
            peer, port = scope["client"]
            headers = _headers(scope)
            client, hops = self.proxies.client(peer, headers.get("x-forwarded-for", ""))
            if hops:
                scope = dict(scope)
                scope["client"] = (client, port)
                protos = [
                    p.strip().lower() for p in headers.get("x-forwarded-proto", "").split(",")
                ]
                proto = protos[-1] if protos else ""
                if proto in ("http", "https"):
                    websocket = scope["type"] == "websocket"
                    scope["scheme"] = {"http": "ws", "https": "wss"}[proto] if websocket else proto
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").lower()
        if key in ("x-forwarded-for", "x-forwarded-proto"):
            found.setdefault(key, []).append(value.decode("latin-1"))
    # Several header lines mean the same as one comma-separated line, in order.
    return {key: ",".join(values) for key, values in found.items()}


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = host.strip()
    if host.startswith("[") and "]" in host:
        host = host[1 : host.index("]")]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
