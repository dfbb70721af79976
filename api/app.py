"""The FastAPI application: ``create_app()`` (also a uvicorn factory: ``api.app:create_app``)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from opentelemetry import _logs as otel_logs
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace
from starlette.routing import Route
from starlette.types import ASGIApp

from api.dispatch import install_hot_dispatch
from api.errors import install_error_handlers
from api.fast_route import FastRoute
from api.framework_internals import warn_if_missing
from api.logs import configure_logging
from api.middleware import RequestContextMiddleware
from api.proxy import TrustedProxies, TrustedProxyMiddleware
from api.rendering import markdown_html
from api.routes import (
    admin,
    auth,
    challenges,
    code_runs,
    health,
    leaderboard,
    me,
    metrics,
    review,
    sessions,
    stream,
)
from api.runtime import Runtime
from api.spa import mount_spa
from api.text_guard import TextGuardMiddleware
from api.tokens import AccessTokens, resolve_secret
from core.bootstrap import Services, build_services, warm_up
from core.config import Settings
from core.process_lease import acquire_llm_lease
from core.store.base import StoreUnavailable
from seeds import ensure_seeded

log = logging.getLogger(__name__)

BackgroundJob = Callable[[Services], Coroutine[Any, Any, None]]

DESCRIPTION = """Narrated technical challenges run by an event-sourced Game Master.

Sign in with `POST /api/auth/login` (the **Authorize** button takes the same email and password),
then create a session, start it and play it step by step. Every text field in a session view has an
`*_html` twin rendered from Markdown on the server and sanitised."""


# The API's routers, in the order their routes are added (and documented in /openapi.json).
ROUTERS = tuple(
    module.router
    for module in (
        health,
        metrics,
        auth,
        me,
        challenges,
        sessions,
        stream,
        code_runs,
        leaderboard,
        admin,
        review,
    )
)

# FastAPI's native OpenTelemetry, when nothing configures OpenTelemetry: off. Left on, FastAPI asks
# on every request whether a tracer, meter or logger provider has been set since (three look-ups,
# each reading the environment), a few per cent of the API layer's CPU for nothing.
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def native_telemetry(environ: Mapping[str, str] = os.environ) -> TelemetryConfig | None:
    """FastAPI's telemetry settings: its defaults (None) when OpenTelemetry is configured for this
    process — an ``OTEL_*`` or ``FASTAPI_OTEL_*`` variable (how the SDK, its exporters and
    ``opentelemetry-instrument`` are set up) or a provider already set when the app is built —
    else ``TELEMETRY_OFF``."""
    if any(name.startswith(("OTEL_", "FASTAPI_OTEL_")) for name in environ):
        return None
    providers = (
        otel_trace.get_tracer_provider(),
        otel_metrics.get_meter_provider(),
        otel_logs.get_logger_provider(),
    )
    # The API's stand-ins until a provider is set (its proxies, or no-ops by configuration).
    if all(type(provider).__name__.startswith(("Proxy", "_Proxy")) for provider in providers):
        return TELEMETRY_OFF
    return None


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put ``router``'s routes on the app itself, in order, rather than including the router.

    FastAPI matches an included router by walking all of its routes with per-route bookkeeping,
    then matches again inside it, on every request; routes the app holds are matched once. Our
    routers set everything on themselves (prefix, tags, responses), so the routes are the same
    either way, /openapi.json included (``tests/api/test_routes.py``). ``app.dependency_overrides``
    does not reach them: tests pass their services to ``create_app`` instead.
    """
    if (
        router.on_startup
        or router.on_shutdown
        or not all(isinstance(route, APIRoute) for route in router.routes)
    ):
        app.include_router(router)  # what only including does (nested routers, events)
        return
    app.router.routes.extend(router.routes)


def match_hot_routes_first(app: FastAPI) -> None:
    """Let the router try the session routes (the hot path) first, when that cannot change which
    route answers a request; /openapi.json keeps the routes in the order they were added.

    The router tries its routes in order until one matches, so every session request used to run
    the matchers of the 15 routes before them (documentation, health, auth, profile, catalogue):
    ~20 µs of a loaded machine's time per request. The session routes move to the front as one
    block, and only when no route they jump over could match a path they match: every such route
    and every route of the block start with fixed paths (``/health``, ``/api/me`` — ``/api/sessions``)
    neither of which starts with the other, and a route matches only paths starting with its own.
    The first route to match a request, and so the answer, is then the same as before."""
    routes = app.router.routes
    hot = hot_routes(app)
    if not hot:
        return
    start, end = routes.index(hot[0]), routes.index(hot[-1]) + 1
    block, jumped = routes[start:end], routes[:start]
    heads = [head for head in map(_fixed_head, block + jumped) if head is not None]
    if len(heads) != len(block) + len(jumped):
        return  # a route whose paths we cannot bound: keep the order
    block_heads, jumped_heads = heads[: len(block)], heads[len(block) :]
    for head in jumped_heads:
        if any(head.startswith(other) or other.startswith(head) for other in block_heads):
            return
    routes[:] = block + jumped + routes[end:]
    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        matching = app.router.routes
        moved, rest = matching[: len(block)], matching[len(block) :]
        app.router.routes = rest[: len(jumped)] + moved + rest[len(jumped) :]
        try:  # synchronous: no request is matched meanwhile
            return framework_openapi()
        finally:
            app.router.routes = matching

    app.openapi = openapi  # type: ignore[method-assign]


def hot_routes(app: FastAPI) -> list[APIRoute]:
    """The session routes with a fast plan (the hot path), in the router's order."""
    return [
        route for route in app.router.routes if isinstance(route, FastRoute) and route.fast_plan
    ]


def _fixed_head(route: Any) -> str | None:
    """The fixed start of every path ``route`` matches, or None when that is not known."""
    if type(route) is Route or isinstance(route, APIRoute):
        head: str = route.path_format.split("{", 1)[0]
        return head
    return None


async def warm_rendering(services: Services) -> int:
    """Render every Markdown text of the catalogue that holds a code block, once, before the
    server listens (with ``WARM_UP_SECONDS``); return how many.

    Pygments builds a language's lexer (its compiled regular expressions) the first time a block
    in that language is highlighted: 60 ms for Python on the benchmark machine, on the event loop,
    in the first burst of requests, which all waited behind it. The texts' HTML is cached too.
    A catalogue that cannot be read now is left for the first requests."""
    if services.settings.warm_up_seconds <= 0:
        return 0
    try:
        summaries = await services.catalog.summaries()
        specs = [await services.catalog.latest_spec(summary.id) for summary in summaries]
    except StoreUnavailable as error:
        log.warning("could not warm the renderer: %s", error)
        return 0
    texts = {text for spec in specs for text in _fenced_texts(spec)}
    for text in texts:
        markdown_html(text)
    return len(texts)


def _fenced_texts(value: object) -> Iterator[str]:
    """The strings holding a Markdown code block anywhere in ``value`` (a challenge's spec)."""
    if isinstance(value, str):
        if "```" in value:
            yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for spec_field in dataclasses.fields(value):
            yield from _fenced_texts(getattr(value, spec_field.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _fenced_texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _fenced_texts(item)


def create_app(
    services: Services | None = None,
    settings: Settings | None = None,
    *,
    background: Sequence[BackgroundJob] = (),
    mounts: Sequence[tuple[str, ASGIApp]] = (),
) -> FastAPI:
    """Build the API around ``services`` (built from ``settings`` at startup when omitted).

    Refuses to start (``ConfigurationError``) without a strong ``SECRET_KEY`` unless
    ``ENV=development``. At startup it seeds the shipped challenges into an empty catalogue, then
    runs each ``background`` job (e.g. a chat bot, see ``curiouscore up``) until shutdown.
    ``mounts`` adds ASGI apps under a path prefix (e.g. Slack's ``/slack/events``).
    """
    settings = settings or (services.settings if services is not None else Settings())
    configure_logging(settings.log_level)
    warn_if_missing()
    proxies = TrustedProxies.parse(settings.forwarded_allow_ips)
    tokens = AccessTokens(
        resolve_secret(settings),
        algorithm=settings.algorithm,
        ttl=timedelta(minutes=settings.access_token_expire_minutes),
    )
    runtime = Runtime(settings=settings, tokens=tokens)
    if services is not None:
        runtime.attach(services, owned=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Refuses a second process keeping its own LLM limits (no REDIS_URL); with
        # PENDING_WORK=queue the workers call the LLM, not this process.
        lease = await acquire_llm_lease(settings, calls_llm=settings.pending_work == "inline")
        if runtime.services is None:
            runtime.attach(await build_services(settings), owned=True)
        assert runtime.services is not None
        try:
            report = await ensure_seeded(runtime.services)
            if report is not None:
                log.info("seeded the shipped challenges", extra={"challenges": len(report.results)})
        except StoreUnavailable as error:
            log.warning("could not check the catalogue at startup: %s", error)
        if runtime.owns_services:  # a server's own pool; tests passing services warm their own
            services = runtime.services
            await warm_up(services, also=lambda: warm_rendering(services))
        jobs = [asyncio.create_task(job(runtime.services)) for job in background]
        try:
            yield
        finally:
            for task in jobs:
                task.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            if runtime.owns_services:
                await runtime.services.close()
            if lease is not None:
                await lease.release()

    app = FastAPI(
        title="CuriousCore",
        description=DESCRIPTION,
        version=health.VERSION,
        lifespan=lifespan,
        redoc_url=None,
        telemetry=native_telemetry(),
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    for router in ROUTERS:
        add_routes(app, router)
    for prefix, mounted in mounts:
        app.mount(prefix, mounted)
    mount_spa(app)
    match_hot_routes_first(app)
    install_hot_dispatch(app.router, hot_routes(app))
    # Added innermost first: the request context (ids, security headers, logs, metrics) wraps
    # everything, including CORS preflights.
    app.add_middleware(TextGuardMiddleware, limit=settings.max_body_bytes)  # and the body limit
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            # Credentialed requests (cookies) from the listed origins only: a static-hosted SPA
            # sends them (docs/deploy.md); a wildcard never gets them.
            allow_credentials="*" not in settings.cors_origin_list,
            allow_methods=["GET", "POST", "OPTIONS"],
            # X-Refresh-Cookie: the SPA asks for its refresh token in an HttpOnly cookie with it.
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "X-Refresh-Cookie",
            ],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, runtime=runtime)
    if proxies.enabled:
        # Outermost: everything inside (logs, limits) sees the client, not the proxy.
        app.add_middleware(TrustedProxyMiddleware, proxies=proxies)
    return app
