"""The hot routes' table (api/dispatch.py): it picks the route the router's scan would pick, or
leaves the request to the router."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from starlette.responses import Response
from starlette.routing import Match

from api.app import add_routes, create_app, hot_routes
from api.dispatch import (
    FrameworkShortcut,
    HotDispatch,
    hot_table,
    install_hot_dispatch,
    shape_of,
)
from api.fast_route import FastRoute
from api.text_guard import TextGuardMiddleware
from tests.api.conftest import new_session, register

METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH")


def scanned(app: FastAPI, method: str, path: str) -> Any:
    """The route the router's own loop takes for a request: the first full match."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def found(dispatch: HotDispatch, method: str, path: str) -> Any:
    entry = dispatch._find(method, path.split("/"))
    return None if entry is None else entry[0]


def sample_paths(app: FastAPI) -> set[str]:
    """Every route's path with its parameters filled in, and near misses of each."""
    paths = {"/", "", "/api/sessions/", "/api/sessions//start", "/api/sessions/a/b/start"}
    for route in app.router.routes:
        template = getattr(route, "path_format", None)
        if not template:
            continue
        for value in ("s-1", "start", "a.b", "x\n", "%2F"):
            path = template
            while "{" in path:
                head, rest = path.split("{", 1)
                path = head + value + rest.split("}", 1)[1]
            paths |= {path, path + "/", path + "/extra", path.rstrip("/") + "x", path.upper()}
    return paths


def test_the_table_picks_what_the_router_would(services):
    app = create_app(services, services.settings)
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, HotDispatch)
    taken = 0
    for method, path in itertools.product(METHODS, sorted(sample_paths(app))):
        route = found(dispatch, method, path)
        if route is not None:
            taken += 1
            assert route is scanned(app, method, path), (method, path)
    # Not vacuous: every hot route, for its own method, is in the table.
    for route in hot_routes(app):
        method = next(iter(route.methods))
        path = route.path_format.replace("{session_id}", "s-1")
        assert found(dispatch, method, path) is route, path
    assert taken >= len(hot_routes(app))
    # A parameter is never empty, and a path with more or fewer segments is the router's.
    assert found(dispatch, "POST", "/api/sessions//start") is None
    assert found(dispatch, "POST", "/api/sessions/a/b/start") is None
    assert found(dispatch, "PUT", "/api/sessions/s-1/start") is None


def _endpoint() -> Response:
    return Response()


def test_a_route_before_that_could_match_keeps_a_hot_route_out():
    app = FastAPI()
    router = APIRouter(route_class=FastRoute)
    router.add_api_route("/items/special", _endpoint, methods=["GET"])
    router.add_api_route("/items/{item_id}", _endpoint, methods=["GET", "POST"])
    router.add_api_route("/items/{item_id}/parts", _endpoint, methods=["GET"])
    router.add_api_route("/files/{path:path}", _endpoint, methods=["POST"])
    router.add_api_route("/boxes/{box_id}/lid", _endpoint, methods=["POST"])
    add_routes(app, router)  # the routes on the app itself, as create_app puts them
    routes = app.router.routes
    special, item, parts, files, lid = routes[-5:]
    assert shape_of(special) == ("", "items", "special")
    assert shape_of(item) == ("", "items", None)
    assert shape_of(files) is None  # a path parameter spans segments
    table = hot_table(routes, [item, parts, files, lid])
    # GET /items/special is the earlier route's: GET /items/{item_id} stays out; POST does not.
    # A route of unknown shape taking POST (/files/{path:path}) keeps every later POST route out.
    assert {(method, route.path) for (method, _), (route, _) in table.items()} == {
        ("POST", "/items/{item_id}"),
        ("GET", "/items/{item_id}/parts"),
    }
    without_files = [route for route in routes if route is not files]
    assert [route.path for route, _ in hot_table(without_files, [lid]).values()] == [lid.path]


async def test_requests_through_the_table_get_the_framework_s_scope(services, monkeypatch):
    """The same requests with the table (and the shortcut past FastAPI's innermost layers) and
    without: the same scope for the route's app, the same answers."""
    app = create_app(services, services.settings)
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, HotDispatch)
    seen: list[dict[str, Any]] = []
    keys = ("route", "endpoint", "path_params", "router", "starlette.exception_handlers")
    for route in hot_routes(app):
        inner = route.app

        async def recording(scope: Any, receive: Any, send: Any, inner: Any = inner) -> None:
            seen.append({key: scope.get(key) for key in keys})
            seen[-1]["file stack"] = "fastapi_middleware_astack" in scope
            await inner(scope, receive, send)

        monkeypatch.setattr(route, "app", recording)
        monkeypatch.setattr(route, "fast_app", recording)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        learner = await register(http)
        recorded, answers = [], []
        for table_on in (True, False):
            app.router.middleware_stack = dispatch if table_on else dispatch.app
            seen.clear()
            view = await new_session(http, learner, start=False)
            path = f"/api/sessions/{view['session_id']}"
            for method, url in (("POST", f"{path}/start"), ("GET", path), ("POST", path + "/x")):
                response = await http.request(method, url, headers=learner.headers)
                answers.append((table_on, response.status_code, response.json().get("status")))
            for record in seen:  # the session's id is the only difference between the passes
                if record["path_params"]:
                    assert record["path_params"] == {"session_id": view["session_id"]}
                    record["path_params"] = {"session_id": "..."}
                # Past the exit-stack layer with the table (its stack is only FastAPI's
                # handler's, which a FastRoute opens itself), through it without.
                assert record.pop("file stack") is not table_on
            recorded.append(list(seen))
        assert len(recorded[0]) == 3 and recorded[0] == recorded[1]
        assert recorded[0][0]["starlette.exception_handlers"] is not None
        assert [answer[1:] for answer in answers] == [
            (200, "active"),
            (200, "active"),
            (404, None),
        ] * 2


def test_no_table_when_the_router_limits_forms():
    app = FastAPI()
    app.router.form_limits = {"max_files": 1}  # type: ignore[assignment]
    assert install_hot_dispatch(app.router, []) is None


async def test_the_shortcut_only_where_fastapis_innermost_layers_are_what_it_knows(services):
    app = create_app(services, services.settings)
    stack = app.build_middleware_stack()
    guards = []
    layer: Any = stack
    while layer is not None:
        if isinstance(layer, TextGuardMiddleware):
            guards.append(layer)
        layer = getattr(layer, "app", None)
    assert len(guards) == 1 and guards[0].shortcut is not None
    exceptions = guards[0].app
    assert FrameworkShortcut.below(exceptions) is not None
    assert FrameworkShortcut.below(exceptions.app) is None  # not ExceptionMiddleware
    # A handler for RuntimeError would take what a hot route raises after its response started.
    handled = create_app(services, services.settings)
    handled.add_exception_handler(RuntimeError, lambda request, exc: Response(status_code=500))
    layer = handled.build_middleware_stack()
    while not isinstance(layer, TextGuardMiddleware):
        layer = layer.app
    assert layer.shortcut is None
