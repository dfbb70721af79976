"""The session routes' fast handler (api/fast_route.py): taken on ordinary requests, and answering
every request exactly as FastAPI's own handler does."""

from __future__ import annotations

import copy
import importlib
import logging
import sys
import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import Depends, FastAPI, Form
from fastapi.routing import APIRoute, request_response
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from api import app as app_module
from api import framework_internals
from api.app import TELEMETRY_OFF, create_app, hot_routes, native_telemetry
from api.deps import ActorDep, ServicesDep
from api.dispatch import HotDispatch
from api.fast_route import (
    ATOMIC,
    FastRoute,
    Param,
    core_validator,
    handle_exception,
    header,
)
from api.routes import health
from api.schemas.sessions import SessionViewOut, StepIn
from tests.api.conftest import new_session, register


def framework_only(app: Any) -> Any:
    """``app`` with every FastRoute answering through FastAPI's own handler, found by the router's
    own scan (no table, see api/dispatch.py). The routes are copies: the app's routes are the
    routers' own objects, shared by every app built in this process."""
    routes = app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, FastRoute):
            plain = copy.copy(route)
            plain.app = request_response(route.get_route_handler())
            routes[index] = plain
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, HotDispatch)
    app.router.middleware_stack = dispatch.app
    return app


def test_every_session_view_route_has_a_fast_plan(services):
    app = create_app(services, services.settings)
    view_routes = [
        route
        for route in app.routes
        if isinstance(route, APIRoute) and route.response_model is SessionViewOut
    ]
    assert len(view_routes) == 7  # create, view, start, answer, continue, hint, abandon
    for route in view_routes:
        assert isinstance(route, FastRoute), route.path
        assert route.fast_plan is not None, route.path
    # Routes whose endpoint returns a model keep FastAPI's serialisation.
    events = next(r for r in app.routes if getattr(r, "path", "").endswith("/events"))
    assert isinstance(events, FastRoute) and events.fast_plan is None


async def test_ordinary_requests_skip_solving_dependencies(client, monkeypatch):
    learner = await register(client)
    solved: list[str] = []
    original = fastapi.routing.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await original(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    view = await new_session(client, learner)
    path = f"/api/sessions/{view['session_id']}"
    response = await client.post(
        f"{path}/continue",
        json={"step_id": view["step"]["id"]},
        headers={**learner.headers, "Idempotency-Key": "k-1"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["step"]["id"] == "pick"
    response = await client.post(
        f"{path}/answer", json={"step_id": "pick", "answer": 0}, headers=learner.headers
    )
    assert response.status_code == 200, response.text
    assert (await client.get(path, headers=learner.headers)).status_code == 200
    assert solved == []
    # Not the ordinary case (the body fails validation): FastAPI's handler answers.
    response = await client.post(
        f"{path}/answer", json={"step_id": "several", "answer": 1.5}, headers=learner.headers
    )
    assert response.status_code == 422
    assert solved == [f"{path}/answer"]


# Where the process's own api modules keep process-wide state (log handlers, each registry's
# metrics): an app imported afresh shares them rather than registering its metrics twice.
SHARED_API_MODULES = ("api.logs", "api.metrics")


@pytest.fixture
def fresh_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., types.ModuleType]]:
    """A function importing ``api.app`` afresh (with every api module that leads to it) as on a
    FastAPI or Starlette that lacks a module, or a module's name: what a fresh install of a newer
    release meets. Only imports from then on see the stand-in; FastAPI's own modules, imported
    already, keep theirs. The process's own api modules are back afterwards."""

    def without(module: str, name: str | None) -> types.ModuleType:
        stand_in = None  # ``import module`` then raises ImportError
        if name is not None:
            stand_in = types.ModuleType(module)
            vars(stand_in).update(vars(importlib.import_module(module)))
            delattr(stand_in, name)
        monkeypatch.setitem(sys.modules, module, stand_in)
        for loaded in [m for m in sys.modules if _is_api(m) and m not in SHARED_API_MODULES]:
            monkeypatch.delitem(sys.modules, loaded)
        return importlib.import_module("api.app")

    yield without
    for loaded in [m for m in sys.modules if _is_api(m) and m not in SHARED_API_MODULES]:
        del sys.modules[loaded]  # the fresh ones; monkeypatch then puts the process's own back


def _is_api(module: str) -> bool:
    return module == "api" or module.startswith("api.")


# The fast paths on the installed FastAPI and Starlette, then without one of the internals they
# use: a private function gone, a private module gone.
FRAMEWORKS = [
    pytest.param(None, id="installed"),
    pytest.param(("fastapi.dependencies.utils", "_get_param_aliases"), id="no-fastapi-function"),
    pytest.param(("starlette._exception_handler", None), id="no-starlette-module"),
]


def test_the_installed_fastapi_has_what_the_fast_paths_use():
    assert framework_internals.INTERNALS is not None, (
        f"{framework_internals.versions()} lacks or changed what the fast paths use: "
        f"{'; '.join(framework_internals.MISSING)}. The app still answers, through FastAPI's "
        "own handling (about 1.6x the instructions per request of benchmarks/bench_asgi.py). Port api/framework_internals.py "
        "(and its users api/fast_route.py, api/dispatch.py) to this release's internals, or cap "
        "fastapi below it in pyproject.toml until then."
    )


@pytest.mark.parametrize("missing", FRAMEWORKS)
async def test_the_fast_path_answers_as_fastapi_does(services, missing, fresh_api, caplog):
    """The same requests against the same services, through both handlers: the same answers.
    On a framework without one of the internals the fast paths use, the app (imported afresh)
    starts, says so once, and answers the same, through FastAPI's own handling."""
    caplog.set_level(logging.WARNING, logger=framework_internals.__name__)
    if missing is None:
        fast_app = create_app(services, services.settings)
    else:
        fast_app = fresh_api(*missing).create_app(services, services.settings)
        assert not any(getattr(route, "fast_plan", None) for route in fast_app.routes)
        # No table, and the text guard hands nothing past FastAPI's layers (api/dispatch.py).
        assert type(fast_app.router.middleware_stack).__name__ != "HotDispatch"
        layer = fast_app.build_middleware_stack()
        while type(layer).__name__ != "TextGuardMiddleware":
            layer = layer.app
        assert layer.shortcut is None
    plain_app = framework_only(create_app(services, services.settings))
    fast = httpx.AsyncClient(transport=httpx.ASGITransport(app=fast_app), base_url="http://t")
    plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app), base_url="http://t")
    async with fast_app.router.lifespan_context(fast_app), fast, plain:
        learner = await register(fast)
        view = await new_session(fast, learner)
        path = f"/api/sessions/{view['session_id']}"
        auth = learner.headers
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", path, {"headers": auth}),
            ("GET", path, {}),  # no token
            ("GET", path, {"headers": {"Authorization": "Basic abc"}}),
            ("GET", path, {"headers": {"Authorization": "Bearer not-a-token"}}),
            ("GET", "/api/sessions/" + "x" * 256, {"headers": auth}),
            ("GET", "/api/sessions/no-such-session", {"headers": auth}),
            ("POST", "/api/sessions", {"json": {"challenge_id": ""}, "headers": auth}),
            ("POST", "/api/sessions", {"json": {"challenge_id": "nope"}, "headers": auth}),
            ("POST", "/api/sessions", {"json": {}, "headers": auth}),
            ("POST", "/api/sessions", {"json": [1], "headers": auth}),
            ("POST", "/api/sessions", {"content": b"{not json", "headers": _json(auth)}),
            ("POST", "/api/sessions", {"content": b'{"challenge_id": "quiz"}', "headers": auth}),
            (
                "POST",
                "/api/sessions",
                {
                    "content": b'{"challenge_id": "quiz"}',
                    "headers": {**auth, "Content-Type": "text/plain"},
                },
            ),
            ("POST", f"{path}/answer", {"json": {"step_id": "welcome"}, "headers": auth}),
            (
                "POST",
                f"{path}/answer",
                {"json": {"step_id": "pick", "answer": 0}, "headers": auth},
            ),  # not the current step: 409
            ("POST", f"{path}/continue", {"json": {"step_id": "pick"}, "headers": auth}),
            ("POST", f"{path}/continue", {"json": {"step_id": 7}, "headers": auth}),
            (
                "POST",
                f"{path}/continue",
                {"json": {"step_id": "welcome"}, "headers": {**auth, "Idempotency-Key": "a b"}},
            ),
            (
                "POST",
                f"{path}/continue",
                {"json": {"step_id": "welcome"}, "headers": {**auth, "Idempotency-Key": ""}},
            ),
            (
                "POST",
                f"{path}/continue",
                {"json": {"step_id": "welcome"}, "headers": {**auth, "Idempotency-Key": "k" * 201}},
            ),
            ("POST", f"{path}/hint", {"json": {"step_id": "welcome"}}),  # no token
            ("POST", f"{path}/start", {"headers": auth}),  # already started: 409
            ("PUT", f"{path}/start", {"headers": auth}),  # 405
            ("POST", "/api/sessions//start", {"headers": auth}),  # no id: no route
            ("POST", f"{path}/start/", {"headers": auth}),  # a slash too many
            ("POST", f"{path}/nope", {"headers": auth}),
        ]
        for method, url, options in cases:
            a = await fast.request(method, url, **options)
            b = await plain.request(method, url, **options)
            assert (a.status_code, a.content) == (b.status_code, b.content), (method, url, options)
            assert a.headers.get("allow") == b.headers.get("allow")
            assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")
        # A change through each handler, then the same view through both.
        for key, http in (("k-fast", fast), ("k-plain", plain)):
            step = (await http.get(path, headers=auth)).json()["step"]
            body = {"step_id": step["id"]} if step["kind"] == "gate" else None
            if body is None:
                body = {"step_id": step["id"], "answer": 0}
                url = f"{path}/answer"
            else:
                url = f"{path}/continue"
            response = await http.post(url, json=body, headers={**auth, "Idempotency-Key": key})
            assert response.status_code == 200, response.text
            a = await fast.get(path, headers=auth)
            b = await plain.get(path, headers=auth)
            assert a.status_code == 200 and a.content == b.content
    # One warning, when the app was built, naming what is missing and the versions installed.
    warnings = [r.getMessage() for r in caplog.records if r.name == framework_internals.__name__]
    if missing is None:
        assert warnings == []
    else:
        assert len(warnings) == 1, warnings
        assert ".".join(part for part in missing if part) in warnings[0]
        assert framework_internals.versions() in warnings[0]


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_json_spellings_are_answered_alike(client, content_type):
    learner = await register(client)
    response = await client.post(
        "/api/sessions",
        content=b'{"challenge_id": "quiz"}',
        headers={**learner.headers, "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text
    assert response.json()["challenge_id"] == "quiz"


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


async def test_routes_match_behind_a_root_path_and_inside_an_included_router(services):
    """PrefixRoute turns requests down on the path's fixed start only where FastAPI matches the
    path it sees: behind a proxy's root_path and under an including router's prefix it still
    matches."""
    app = create_app(services, services.settings)
    transport = httpx.ASGITransport(app=app, root_path="/cc")
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/cc/livez")).json() == {"status": "alive"}
        learner = await register(http)
        view = await new_session(http, learner)
        got = await http.get(f"/cc/api/sessions/{view['session_id']}", headers=learner.headers)
        assert got.status_code == 200 and got.json()["session_id"] == view["session_id"]
    included = FastAPI()
    included.include_router(health.router, prefix="/v1")
    transport = httpx.ASGITransport(app=included)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/v1/livez")).json() == {"status": "alive"}
        assert (await http.get("/livez")).status_code == 404


def test_fastapis_own_telemetry_runs_only_when_opentelemetry_is_configured(monkeypatch):
    assert native_telemetry({"HOME": "/root"}) == TELEMETRY_OFF
    assert native_telemetry({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}) is None
    assert native_telemetry({"FASTAPI_OTEL_AUTO_CONFIGURE": "true"}) is None

    class TracerProvider:  # what an SDK sets before the app is built
        pass

    monkeypatch.setattr(app_module.otel_trace, "get_tracer_provider", TracerProvider)
    assert native_telemetry({}) is None


def test_routes_that_need_what_only_fastapi_does_have_no_plan():
    async def form_endpoint(name: Annotated[str, Form()]) -> Response:
        return Response(name)

    async def query_endpoint(q: str) -> Response:
        return Response(q)

    async def model_endpoint(services: ServicesDep) -> dict[str, str]:
        return {}

    async def unknown_dependency(value: Annotated[str, Depends(lambda: "x")]) -> Response:
        return Response(value)

    for endpoint in (form_endpoint, query_endpoint, model_endpoint, unknown_dependency):
        route = FastRoute("/x", endpoint, methods=["POST"])
        assert route.fast_plan is None, endpoint.__name__

    async def ordinary(body: StepIn, actor: ActorDep, services: ServicesDep) -> Response:
        return Response()

    assert FastRoute("/x", ordinary, methods=["POST"]).fast_plan is not None


@pytest.mark.parametrize("values", [[], [b"k-1"], [b""], [b"first", b"second"], [b"\xe9"]])
def test_a_header_is_read_as_starlettes_headers_read_it(values):
    headers = [(b"x-other", b"1"), *((b"idempotency-key", value) for value in values)]
    expected = Request({"type": "http", "headers": list(headers)}).headers.get("Idempotency-Key")
    assert header({"headers": headers}, b"idempotency-key") == expected


def test_parameters_validate_as_fastapis_fields_do(services):
    """The fast plan's validators against ``ModelField.validate``: the same value when valid, an
    error whenever it reports errors."""
    app = create_app(services, services.settings)
    params: list[Param] = []
    for route in hot_routes(app):
        plan = route.fast_plan
        assert plan is not None
        params += plan.path_params + plan.header_params
    assert {param.key for param in params} == {"session_id", "Idempotency-Key"}
    samples = ["s-1", "", "x" * 255, "x" * 256, "a b", "k\x7f", "é", 7, None, b"raw", ["s"]]
    for param in params:
        validate = core_validator(framework_internals.INTERNALS, param.field)
        for sample in samples:
            expected, errors = param.field.validate(sample, {}, loc=param.loc)
            try:
                got = validate(sample)
            except ValueError:
                assert errors, (param.key, sample)
            else:
                assert not errors and got == expected, (param.key, sample)
        # A missing optional header: its default as it is (None needs no deep copy).
        if not param.required:
            assert type(param.field.default) in ATOMIC and param.atomic_default
            assert param.value(None) == (True, param.field.default)
        else:
            assert param.value(None) == (False, None)


class Refused(Exception):
    pass


class Unhandled(Exception):
    pass


async def _answer_refused(request: Request, exc: Exception) -> Response:
    return Response(f"refused {exc}", status_code=409)


def _answer_teapot(request: Request, exc: Exception) -> Response:  # a sync handler
    return Response("teapot", status_code=418)


async def _run(handling: str, error: Exception, *, after_start: bool) -> list[Any]:
    """What goes out (messages, or the exception raised) when an app raises ``error``, handled by
    Starlette's wrapper or by ``handle_exception``."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "starlette.exception_handlers": (
            {Refused: _answer_refused},
            {418: _answer_teapot},
        ),
    }
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append((message["type"], message.get("status"), message.get("body")))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise error

    request = Request(scope, receive, send)
    try:
        if handling == "starlette":
            await wrap_app_handling_exceptions(app, request)(scope, receive, send)
        else:
            started = False

            async def sender(message: Any) -> None:
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            try:
                await app(scope, receive, sender)
            except Exception as exc:
                await handle_exception(
                    framework_internals.INTERNALS, exc, request, receive, sender, started=started
                )
    except Exception as raised:
        cause = raised.__cause__
        sent.append(("raised", type(raised).__name__, raised is error, cause is error))
    return sent


@pytest.mark.parametrize(
    "error",
    [
        Refused("x"),
        StarletteHTTPException(418),
        StarletteHTTPException(404),
        Unhandled("x"),
    ],
    ids=["by-class", "by-status", "no-status-handler", "unhandled"],
)
@pytest.mark.parametrize("after_start", [False, True])
async def test_exceptions_are_handled_as_starlettes_wrapper_handles_them(error, after_start):
    ours = await _run("ours", error, after_start=after_start)
    error.__traceback__ = None
    theirs = await _run("starlette", error, after_start=after_start)
    assert ours == theirs
    assert ours  # something went out, or was raised


async def _send_failing_at(app: Any, path: str, auth: dict[str, str], failing: str) -> list[str]:
    """What goes out, and what the app logs as unexpected, when the server's ``send`` raises (a
    handled exception) on the ``failing`` message of a view's response."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t")]
        + [(name.lower().encode(), value.encode()) for name, value in auth.items()],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    outcome: list[str] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        outcome.append(f"{message['type']} {message.get('status', '')}")
        if message["type"] == failing:
            raise Refused("the client went away")

    try:
        await app(scope, receive, send)
    except Exception as raised:  # what the request context does not take
        outcome.append(f"raised {type(raised).__name__}")
    return outcome


@pytest.mark.parametrize("failing", ["http.response.start", "http.response.body"])
async def test_a_response_sent_by_the_fast_path_fails_as_starlettes_would(
    services, caplog, failing
):
    """The fast path sends a plain response's messages itself: an exception from ``send`` (one
    the app has a handler for) is one raised after the response started, as Starlette's
    ``Response`` and exception wrapper make it (RuntimeError, no second answer)."""
    fast_app = create_app(services, services.settings)
    plain_app = framework_only(create_app(services, services.settings))
    outcomes = []
    for number, app in enumerate((fast_app, plain_app)):
        app.add_exception_handler(Refused, _answer_refused)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            learner = await register(http, f"failing-{number}@example.com")
            view = await new_session(http, learner)
        caplog.clear()
        path = f"/api/sessions/{view['session_id']}"
        sent = await _send_failing_at(app, path, learner.headers, failing)
        logged = [
            type(r.exc_info[1]).__name__ for r in caplog.records if r.exc_info and r.exc_info[1]
        ]
        outcomes.append((sent, logged))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] == ["RuntimeError"]
