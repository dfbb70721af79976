"""FastAPI dependencies: the services, the signed-in actor (or, for the session routes, the access
token's claim, which their one statement checks), the client address, idempotency keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer

from api.ratelimit import AuthRateLimits
from api.runtime import Runtime
from core.bootstrap import Services
from core.errors import Unauthorized
from core.service.actor import Actor
from core.store.base import AccessClaim, StoreUnavailable

bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


# Each dependency reads the runtime from the app itself instead of depending on ``get_runtime``:
# FastAPI solves every sub-dependency of every dependency on each request (its cache saves only
# the call), so a flat graph is less work per request than a chain.


def _runtime(request: Request) -> Runtime:
    # ``state["runtime"]``, not ``state.runtime``: Starlette's State answers an attribute from
    # ``__getattr__``, only after the ordinary look-up has failed (an AttributeError raised and
    # cleared on every read); a session request reads it twice (claim, services). −9.9k
    # instructions per request in issue 17's flow (``benchmarks/bench_asgi.py --callgrind``).
    runtime: Runtime = request.scope["app"].state["runtime"]
    return runtime


def _services(runtime: Runtime) -> Services:
    if runtime.services is None:  # still starting, or startup could not reach the database
        raise StoreUnavailable("the services are not ready yet")
    return runtime.services


async def get_runtime(request: Request) -> Runtime:
    return _runtime(request)


async def get_limits(request: Request) -> AuthRateLimits:
    runtime = _runtime(request)
    if runtime.limits is None:
        raise StoreUnavailable("the services are not ready yet")
    return runtime.limits


async def get_services(request: Request) -> Services:
    return _services(_runtime(request))


async def current_actor(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Actor:
    runtime = _runtime(request)
    services = _services(runtime)
    if not token:
        raise Unauthorized("sign in first")
    return await services.accounts.check_access(runtime.tokens.verify(token))


async def access_claim(
    request: Request, token: Annotated[str | None, Depends(bearer)]
) -> AccessClaim:
    """The access token's claim, not checked against the account here: the session use cases
    that take one check it in the statement that does the request's work (issue 17)."""
    runtime = _runtime(request)
    _services(runtime)  # 503 while starting, as for every route with an actor
    if not token:
        raise Unauthorized("sign in first")
    return runtime.tokens.verify(token)


async def optional_actor(
    request: Request, token: Annotated[str | None, Depends(bearer)]
) -> Actor | None:
    runtime = _runtime(request)
    services = _services(runtime)
    if not token:
        return None
    try:
        return await services.accounts.check_access(runtime.tokens.verify(token))
    except Unauthorized:
        return None


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def bearer_token(request: Request) -> str | None:
    """What ``bearer`` (``OAuth2PasswordBearer``, ``auto_error=False``) answers for ``request``,
    read from the raw headers: the first ``Authorization`` header (as ``Headers.get`` finds it; an
    ASGI server gives header names in lower case), its token when its scheme is ``Bearer`` in any
    case, else None. No ``Headers`` object, no awaited call (``tests/api/test_deps.py`` compares
    the two): −7.0k instructions per request in issue 17's flow (``bench_asgi.py --callgrind``)."""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            authorization: str = value.decode("latin-1")
            scheme, _, token = authorization.partition(" ")
            if not authorization or scheme.lower() != "bearer":
                return None
            return token.strip()
    return None


async def _current_actor_direct(request: Request) -> Actor:
    return await current_actor(request, bearer_token(request))


async def _optional_actor_direct(request: Request) -> Actor | None:
    return await optional_actor(request, bearer_token(request))


async def _access_claim_direct(request: Request) -> AccessClaim:
    """``access_claim`` with its token, in one frame: the hot routes' dependency, awaited once
    (with three other frames or objects fewer per request, see ``api.tokens``,
    ``api.dispatch``, ``api.middleware``: 1,182.0k -> 1,173.1k instructions per request in issue
    17's flow, ``benchmarks/bench_asgi.py --callgrind``)."""
    runtime = _runtime(request)
    _services(runtime)  # 503 while starting, as for every route with an actor
    token = bearer_token(request)
    if not token:
        raise Unauthorized("sign in first")
    return runtime.tokens.verify(token)


# Each dependency above as one call of the request (its own sub-dependencies resolved as FastAPI
# would): what ``api.fast_route`` calls instead of solving the graph. A dependency missing here
# simply sends its routes through FastAPI's own handler.
DIRECT_DEPENDENCIES: dict[Callable[..., Any], Callable[[Request], Awaitable[Any]]] = {
    get_runtime: get_runtime,
    get_limits: get_limits,
    get_services: get_services,
    current_actor: _current_actor_direct,
    optional_actor: _optional_actor_direct,
    access_claim: _access_claim_direct,
    client_ip: client_ip,
}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying with the same key returns the same result and appends nothing.",
    ),
]
ServicesDep = Annotated[Services, Depends(get_services)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
LimitsDep = Annotated[AuthRateLimits, Depends(get_limits)]
ActorDep = Annotated[Actor, Depends(current_actor)]
# The hot session routes: the service hands the claim to the store, which checks it in the same
# statement as the request's append or stream read; it is no Actor, so no other use case takes it.
ClaimDep = Annotated[AccessClaim, Depends(access_claim)]
OptionalActorDep = Annotated[Actor | None, Depends(optional_actor)]
ClientIp = Annotated[str, Depends(client_ip)]
