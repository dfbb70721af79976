"""The app holds its routes directly (``api.app.add_routes``) instead of including each router:
the same routes, the same /openapi.json and the same answers to odd requests as including them."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI

from api.app import ROUTERS, add_routes, create_app, match_hot_routes_first
from api.routes import sessions
from core.bootstrap import Services


async def test_the_openapi_document_is_the_one_including_the_routers_gives(services: Services):
    app = create_app(services, services.settings)
    included = FastAPI(title=app.title, version=app.version, description=app.description)
    for router in ROUTERS:
        included.include_router(router)
    ours, theirs = app.openapi(), included.openapi()
    assert list(ours["paths"]) == list(theirs["paths"])
    assert ours["paths"] == theirs["paths"]
    assert ours["components"] == theirs["components"]


async def test_odd_methods_and_trailing_slashes_answer_as_before(client: httpx.AsyncClient):
    put = await client.put("/api/sessions")
    assert (put.status_code, put.headers["allow"]) == (405, "POST")
    wrong = await client.get("/api/sessions/abc/answer")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    slash = await client.get("/api/challenges/")
    assert slash.status_code == 307
    assert slash.headers["location"].endswith("/api/challenges")
    assert (await client.get("/api/nope")).status_code == 404
    # a parameter and a fixed tail (PrefixRoute checks both ends before matching)
    slash = await client.post("/api/sessions/abc/start/")
    assert slash.status_code == 307
    assert slash.headers["location"].endswith("/api/sessions/abc/start")
    assert (await client.get("/api/sessions/abc/start")).headers["allow"] == "POST"
    assert (await client.post("/api/sessions/abc/starts")).status_code == 404


async def test_a_router_with_a_nested_router_is_still_served():
    inner = APIRouter(prefix="/inner")

    @inner.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "inner"}

    outer = APIRouter(prefix="/outer")
    outer.include_router(inner)
    app = FastAPI()
    add_routes(app, outer)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/outer/inner/ping")
    assert response.json() == {"pong": "inner"}


async def test_the_session_routes_are_tried_first_without_changing_any_answer(services: Services):
    app = create_app(services, services.settings)
    matching = [getattr(route, "path", "") for route in app.router.routes]
    assert matching[0] == "/api/sessions"
    assert all(path.startswith("/api/sessions") for path in matching[:8])
    # /openapi.json lists the paths in the order the routes were added (health first)...
    documented = list(app.openapi()["paths"])
    assert documented[0] == "/health"
    assert documented.index("/api/me") < documented.index("/api/sessions")
    # ...and generating it leaves the matching order as it was.
    assert [getattr(route, "path", "") for route in app.router.routes] == matching


def test_routes_are_not_reordered_when_a_jumped_route_could_match():
    app = FastAPI()
    add_routes(app, sessions.router)
    shadow = APIRouter()

    @shadow.get("/api/{anything:path}")
    async def catch_all(anything: str) -> dict[str, str]:
        return {"caught": anything}

    app.router.routes.insert(0, shadow.routes[0])
    before = list(app.router.routes)
    match_hot_routes_first(app)
    assert app.router.routes == before
