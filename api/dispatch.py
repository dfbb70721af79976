"""The hot routes found by one dictionary look-up instead of the router's scan.

The router tries its routes in order, each a method call, a scope look-up and often a regex, until
one matches: an answer request ran five matchers (the session routes come first, see
``api.app.match_hot_routes_first``), then two more frames (``APIRoute.handle``, ``Route.handle``)
before the route's own app. :class:`HotDispatch` is the router's own middleware (Starlette's
``Router(middleware=...)`` slot, ``Router.middleware_stack``): inside every framework layer,
it looks the request's method and path up in a table of the hot routes and calls the route's app
with the scope the router would have given it; anything not in the table goes to the router.

**Why the answer is the same.** A route is in the table only when its path is made of whole
segments, each a literal or a ``{name}`` of the ``str`` convertor (``[^/]+``), and when no route
before it in the router's order can fully match a path it matches: every such route has a
different number of segments, a different literal in some position, or does not take the method.
A path is found in the table only when it has the route's segments (the literals equal, the
parameters non-empty), which is exactly what the route's pattern matches; the router, trying its
routes in order, would then find this route first. Every other request (another path, a
``root_path``, FastAPI's included-router or effective-route context, native telemetry) is the
router's, as before (``tests/api/test_dispatch.py`` compares the two on every route's paths).

Issue 17's flow through the whole ASGI app (``benchmarks/bench_asgi.py --callgrind``): 1,588k →
1,536k instructions per request (−3.3 %), more than the matchers alone: every await of the
request passes through each frame between the app and the endpoint, and this takes two away.

The hot routes are the ``FastRoute``s with a plan, and :class:`FrameworkShortcut` reads Starlette's
handlers with ``api.framework_internals``: on a FastAPI or Starlette without the internals those
use, there are no hot routes, so no table, and no shortcut: every request takes the standard path.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.routing import APIRoute, APIRouter
from starlette.convertors import StringConvertor
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api.framework_internals import HANDLERS_KEY, INTERNALS

# Where FastAPI's handler finds its exit stack for uploaded files (AsyncExitStackMiddleware's).
FILE_STACK = "fastapi_middleware_astack"
# A route's path as segments: a literal, or None for a whole-segment ``str`` parameter.
Shape = tuple[str | None, ...]
# A table entry: the route and the (position, name) of each path parameter.
Entry = tuple[APIRoute, tuple[tuple[int, str], ...]]
# Where a group of shapes has its parameters: how to read its literals, where the parameters are,
# and the entries by their literals.
Lookup = tuple["itemgetter[Any]", tuple[int, ...], dict[Any, Entry]]


def shape_of(route: Any) -> Shape | None:
    """The segments of the paths ``route`` matches, or None when they are not whole segments of
    literals and ``str`` parameters (a mount, a ``{path:path}``, a parameter inside a segment)."""
    if not isinstance(route, Route):
        return None
    shape: list[str | None] = []
    for segment in route.path_format.split("/"):
        if "{" not in segment and "}" not in segment:
            shape.append(segment)
        elif (
            segment.startswith("{")
            and segment.endswith("}")
            and type(route.param_convertors.get(segment[1:-1])) is StringConvertor
        ):
            shape.append(None)
        else:
            return None
    return tuple(shape)


def _disjoint(one: Shape, other: Shape) -> bool:
    """True when no path has both shapes (so no path both routes' patterns match)."""
    return len(one) != len(other) or any(
        a is not None and b is not None and a != b for a, b in zip(one, other, strict=True)
    )


def hot_table(routes: list[Any], hot: list[APIRoute]) -> dict[tuple[str, Shape], Entry]:
    """The table of those ``hot`` routes that the router, trying ``routes`` in order, would pick
    for every path they match (module docstring), keyed by method and literal segments."""
    table: dict[tuple[str, Shape], Entry] = {}
    for route in hot:
        shape = shape_of(route)
        if (
            shape is None
            or route not in routes
            or not route.methods
            or type(route).handle is not APIRoute.handle
        ):
            continue
        earlier = routes[: routes.index(route)]
        params = tuple(
            (index, route.path_format.split("/")[index][1:-1])
            for index, segment in enumerate(shape)
            if segment is None
        )
        for method in route.methods:
            if all(_cannot_take(other, shape, method) for other in earlier):
                key = (method, shape)
                table.setdefault(key, (route, params))
    return table


def _cannot_take(other: Any, shape: Shape, method: str) -> bool:
    """True when ``other`` fully matches no path of ``shape`` requested with ``method``."""
    if isinstance(other, Route) and other.methods and method not in other.methods:
        return True
    other_shape = shape_of(other)
    return other_shape is not None and _disjoint(shape, other_shape)


class HotDispatch:
    """The router's middleware: the hot routes by table, everything else by the router."""

    def __init__(self, router: APIRouter, table: dict[tuple[str, Shape], Entry]) -> None:
        self.router = router
        self.app = router.middleware_stack
        # By method and number of segments, then by where the parameters are: the routes by their
        # literal segments (at most one entry of the table has a given path's shape, see
        # ``hot_table``: the first of two that could both match keeps the later one out).
        self.index: dict[tuple[str, int], list[Lookup]] = {}
        for (method, shape), entry in table.items():
            literals = tuple(i for i, segment in enumerate(shape) if segment is not None)
            wildcards = tuple(i for i, segment in enumerate(shape) if segment is None)
            lookups = self.index.setdefault((method, len(shape)), [])
            found = next((look for look in lookups if look[1] == wildcards), None)
            if found is None:
                found = (itemgetter(*literals), wildcards, {})
                lookups.append(found)
            found[2][found[0](shape)] = entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.select(scope)
        if route is not None:
            await route.app(scope, receive, send)  # read now: a test may replace it
            return
        await self.app(scope, receive, send)

    def select(self, scope: Scope) -> APIRoute | None:
        """The hot route of an HTTP request, its scope set up as the router sets it (``router``,
        ``endpoint``, ``path_params``, ``route``), or None when the router is to find it."""
        found = self.lookup(scope)
        if found is None:
            return None
        self.enter(scope, *found)
        return found[0][0]

    def lookup(self, scope: Scope) -> tuple[Entry, list[str]] | None:
        """The table's entry for ``scope`` and the path's segments, or None (scope unchanged)."""
        if (
            scope["type"] != "http"
            or scope.get("root_path")
            or "fastapi" in scope
            or "fastapi.telemetry" in scope
        ):
            return None
        segments = scope["path"].split("/")
        entry = self._find(scope["method"], segments)
        return None if entry is None else (entry, segments)

    def enter(self, scope: Scope, entry: Entry, segments: list[str]) -> None:
        """Set ``scope`` up for ``entry``'s route as the router does when it matches."""
        route, params = entry
        if "router" not in scope:
            scope["router"] = self.router
        path_params = dict(scope.get("path_params", {}))
        for index, name in params:
            path_params[name] = segments[index]
        scope["endpoint"] = route.endpoint
        scope["path_params"] = path_params
        scope["route"] = route

    def _find(self, method: str, segments: list[str]) -> Entry | None:
        """The entry whose shape ``segments`` have: its literals, and non-empty parameters."""
        for literals, wildcards, entries in self.index.get((method, len(segments)), ()):
            entry = entries.get(literals(segments))
            if entry is None:
                continue
            for i in wildcards:  # a loop, not ``all()`` of a generator made per request
                if not segments[i]:
                    break
            else:
                return entry
        return None


class FrameworkShortcut:
    """The hot routes' way past FastAPI's two innermost layers and the router.

    Below the app's own middleware, FastAPI runs ``ExceptionMiddleware`` (it puts the app's
    exception handlers in the scope and handles what the app raises), ``AsyncExitStackMiddleware``
    (an exit stack in the scope, for FastAPI's handler to close uploaded files) and the router:
    three more frames, and a wrapped ``send``, for every request. For a request the table finds,
    the innermost middleware (the text guard) calls the route's app itself, having set the scope
    as those three would: the same handlers (``starlette.exception_handlers``), and the route's
    keys (``HotDispatch.select``).

    **Why the answer is the same.** A hot route's app handles every exception it raises with these
    very handlers (``FastRoute``: ``handle_exception`` around the arguments, the endpoint and the
    response; FastAPI's own handler: ``wrap_app_handling_exceptions``), so what leaves it is an
    exception no handler takes, which ``ExceptionMiddleware`` would raise on unchanged too, or the
    RuntimeError of one handled after the response started, which no handler takes either (checked
    here: with a handler for RuntimeError there is no shortcut). The exit stack is only FastAPI's
    handler's: a ``FastRoute`` opens one around it when it hands a request over (``_framework``).
    Without the table (``router.middleware_stack`` replaced), with other layers than these below
    the guard, or with a route's app replaced, requests take the whole way.
    (``tests/api/test_fast_route.py`` sends the same requests through an app with the table, the
    shortcut and the fast routes and through one with none of them: the same answers.)

    Issue 17's flow (``benchmarks/bench_asgi.py --callgrind``): 1,503k → 1,467k instructions per
    request (−2.4 %): three coroutine frames fewer for every await of the request, and a wrapped
    ``send`` and an exit stack fewer per request."""

    def __init__(self, router: APIRouter, dispatch: HotDispatch, handlers: tuple[Any, Any]) -> None:
        self.router = router
        self.dispatch = dispatch
        self.handlers = handlers

    @classmethod
    def below(cls, app: Any) -> FrameworkShortcut | None:
        """The shortcut for a middleware whose next layer is ``app``, or None unless ``app`` is
        FastAPI's ``ExceptionMiddleware`` over its ``AsyncExitStackMiddleware`` over a router with
        a :class:`HotDispatch`, and the handlers can be read off it (``api.framework_internals``)."""
        if INTERNALS is None or type(app) is not ExceptionMiddleware:
            return None
        stack = app.app
        if type(stack) is not AsyncExitStackMiddleware or stack.context_name != FILE_STACK:
            return None
        router = stack.app
        dispatch = getattr(router, "middleware_stack", None)
        if not isinstance(router, APIRouter) or not isinstance(dispatch, HotDispatch):
            return None
        handlers = INTERNALS.exception_handlers(app)
        if INTERNALS.lookup_exception_handler(handlers[0], RuntimeError()) is not None:
            return None
        return cls(router, dispatch, handlers)

    def route_for(self, scope: Scope) -> APIRoute | None:
        """The hot route of ``scope``, set up as the three layers would have; None (the scope
        unchanged) when the request is to take the whole way: no table, not in it, or a route
        whose app is not its ``FastRoute`` app (``fast_app``), which handles its exceptions and
        opens the exit stack FastAPI's handler needs."""
        if self.router.middleware_stack is not self.dispatch:
            return None
        found = self.dispatch.lookup(scope)
        if found is None:
            return None
        route = found[0][0]
        if getattr(route, "fast_app", None) is not route.app:
            return None
        self.dispatch.enter(scope, *found)
        scope[HANDLERS_KEY] = self.handlers
        return route


def install_hot_dispatch(router: APIRouter, hot: list[APIRoute]) -> HotDispatch | None:
    """Put a :class:`HotDispatch` of ``hot`` in front of ``router``'s routes (None when no route
    qualifies or the router limits forms, which the table's path does not apply)."""
    if router.form_limits:
        return None
    table = hot_table(router.routes, hot)
    if not table:
        return None
    dispatch = HotDispatch(router, table)
    router.middleware_stack = dispatch
    return dispatch
