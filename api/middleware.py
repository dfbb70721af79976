"""Pure ASGI middleware: request id + access log + metrics + last-resort errors + security headers
(one layer at the edge). The body limit is ``api.text_guard``'s, which reads the body anyway."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import request_id_var
from api.metrics import UNMATCHED

if TYPE_CHECKING:
    from api.runtime import Runtime

log = logging.getLogger("api.request")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNEXPECTED = "something went wrong on our side; please try again (request id {request_id})"

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from a CDN with an inline bootstrap.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)


def security_headers(path: str, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    """The hardening headers of a response to ``path`` (raw ASGI pairs), each set only when the
    response has not set it itself."""
    return _SECURITY_HEADERS[(path.startswith(DOCS_PATHS), path.startswith("/api/"), https)]


def _raw_security_headers(docs: bool, api: bool, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    pairs = [("Content-Security-Policy", DOCS_CSP if docs else APP_CSP), *SECURITY_HEADERS]
    if api:
        pairs.append(("Cache-Control", "no-store"))
    if https:
        pairs.append(("Strict-Transport-Security", "max-age=31536000"))
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs)


# Every combination, encoded once: a response only looks its set up.
_SECURITY_HEADERS = {
    (docs, api, https): _raw_security_headers(docs, api, https)
    for docs in (False, True)
    for api in (False, True)
    for https in (False, True)
}


# Every name a set may hold: a response setting none of them gets its whole set.
HARDENING_NAMES = frozenset(name for pairs in _SECURITY_HEADERS.values() for name, _ in pairs)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/sessions/{session_id}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    if scope["path"].startswith("/static/"):  # the SPA's files (a mount, not a route)
        return "/static/{path}"
    return UNMATCHED


class RequestContextMiddleware:
    """Outermost: gives each request an id (``X-Request-ID`` in and out), adds the security
    headers (a strict Content-Security-Policy and the usual hardening headers) to every response,
    logs one line per request, records latency and status per route, and turns any unexpected
    exception into a generic JSON error that names only the request id.

    One layer for what every response gets on its way out, so a request pays for one wrapped
    ``send`` rather than one per concern."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":  # the first one, as Headers.get gives it
                incoming = value.decode("latin-1")
                if REQUEST_ID.match(incoming):
                    request_id = incoming
                break
        if request_id is None:
            # 32 random hex digits (what uuid4().hex gave, without building a UUID).
            request_id = os.urandom(16).hex()
        raw_request_id = (b"x-request-id", request_id.encode("latin-1"))
        hardening = security_headers(scope["path"], scope.get("scheme") == "https")
        reset = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_context(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = message.get("headers", ())
                present = dict(headers)  # the names, as keys (no comprehension's frame)
                if HARDENING_NAMES.isdisjoint(present):  # as usual: every one of them to add
                    message["headers"] = [*headers, *hardening, raw_request_id]
                else:
                    message["headers"] = [
                        *headers,
                        *(pair for pair in hardening if pair[0] not in present),
                        raw_request_id,
                    ]
            await send(message)

        metrics = self.runtime.metrics
        if metrics is not None:
            metrics.in_progress_now += 1
        try:
            await self.app(scope, receive, send_with_context)
        except Exception:
            log.exception(
                "unexpected error",
                extra={"method": scope["method"], "path": scope["path"], "request_id": request_id},
            )
            status = 500
            if not response_started:
                body = {"detail": UNEXPECTED.format(request_id=request_id)}
                await JSONResponse(body, status_code=500)(scope, receive, send_with_context)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            if metrics is not None:
                metrics.in_progress_now -= 1
                metrics.observe(scope["method"], route, status, seconds)
            if log.isEnabledFor(logging.INFO):  # the access line costs nothing when it is off
                log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client": (scope.get("client") or ("-",))[0],
                    },
                )
            request_id_var.reset(reset)
