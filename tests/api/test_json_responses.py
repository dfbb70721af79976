"""Session views go through Pydantic's Rust core once: the engine's dataclasses serialised to JSON
bytes that are exactly what the documented response model writes (``SessionViewOut``). FastAPI
does not validate them a second time (a route that returns a ready response is passed through),
and no ``json.dumps`` step is left."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from fastapi import routing
from starlette.responses import Response

from api import rendering
from api.schemas.sessions import SessionViewOut
from core.engine.state import Status, TranscriptEntry
from core.engine.view import Progress, SessionView, UiMode
from tests.api.conftest import new_session, register


async def test_session_views_are_serialised_once_by_pydantic_core(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fastapi_serialised: list[Any] = []
    views: list[SessionView] = []
    serialize = routing.serialize_response
    view_json = rendering.view_json

    async def recording_serialize(**kwargs: Any) -> Any:
        fastapi_serialised.append(kwargs.get("response_content"))
        return await serialize(**kwargs)

    def recording_view_json(view: SessionView) -> bytes:
        views.append(view)
        return view_json(view)

    ada = await register(client)
    monkeypatch.setattr(routing, "serialize_response", recording_serialize)
    monkeypatch.setattr(rendering, "view_json", recording_view_json)
    session = await new_session(client, ada)
    view = await client.get(f"/api/sessions/{session['session_id']}", headers=ada.headers)

    assert view.status_code == 200
    assert view.headers["content-type"] == "application/json"
    assert view.json()["session_id"] == session["session_id"]
    # the bytes the documented model writes (compact, unlike json.dumps), sent as they are
    model = rendering.session_view_model(views[-1])
    assert isinstance(model, SessionViewOut)
    assert view.content == model.model_dump_json().encode()
    assert fastapi_serialised == []  # no second validation of the view


async def test_every_kind_of_view_is_written_as_the_documented_model_writes_it(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole quiz (gate, mcq wrong then right, multi, true/false, a hint, chat, the result
    screen): every view's bytes equal the response model's, field order included."""
    views: list[SessionView] = []
    view_json = rendering.view_json

    def recording_view_json(view: SessionView) -> bytes:
        views.append(view)
        return view_json(view)

    monkeypatch.setattr(rendering, "view_json", recording_view_json)
    ada = await register(client)
    session = await new_session(client, ada)
    path = f"/api/sessions/{session['session_id']}"
    moves: list[tuple[str, dict[str, Any]]] = [
        ("continue", {"step_id": "welcome"}),
        ("hint", {"step_id": "pick"}),
        ("answer", {"step_id": "pick", "answer": 1}),
        ("answer", {"step_id": "pick", "answer": 0}),
        ("answer", {"step_id": "several", "answer": [0, 2]}),
        ("answer", {"step_id": "truth", "answer": True}),
        ("answer", {"step_id": "explain", "answer": "Functions let me reuse named code."}),
    ]
    for action, body in moves:
        response = await client.post(f"{path}/{action}", json=body, headers=ada.headers)
        assert response.status_code == 200, (action, body, response.text)
    final = await client.get(path, headers=ada.headers)
    assert final.json()["result"] is not None
    assert final.json()["feedback"] and final.json()["transcript"]
    assert len(views) >= len(moves) + 3
    for view in views:
        written = view_json(view)
        assert written == rendering.session_view_model(view).model_dump_json().encode()


async def test_the_view_keeps_its_documented_shape_and_status(
    client: httpx.AsyncClient,
) -> None:
    ada = await register(client)
    created = await client.post("/api/sessions", json={"challenge_id": "quiz"}, headers=ada.headers)
    assert created.status_code == 201
    fields = set(SessionViewOut.model_fields)
    assert set(created.json()) == fields
    started = await client.post(
        f"/api/sessions/{created.json()['session_id']}/start", headers=ada.headers
    )
    step = started.json()["step"]
    assert {"body_html", "prompt_html", "choices_html"} <= set(step)
    assert all("html" in entry for entry in started.json()["transcript"])


def test_a_view_written_again_gives_the_same_bytes_and_another_view_its_own() -> None:
    """The bytes of a view are kept by the view object (a read after a write gets the write's
    view): an equal view built anew is written on its own, to the same bytes."""
    view = SessionView(
        session_id="s",
        challenge_id="c",
        challenge_version=1,
        title="Title",
        status=Status.ACTIVE,
        ui_mode=UiMode.NOT_STARTED,
        step=None,
        transcript=(TranscriptEntry("narration", "welcome", "**Hi**", "2026-01-01T00:00:00"),),
        progress=Progress(0, 1, 0.0, 10),
        result=None,
        version=3,
        created_at="2026-01-01T00:00:00",
        updated_at="2026-01-01T00:00:00",
    )
    first = rendering.view_json(view)
    assert rendering.view_json(view) is first
    equal = dataclasses.replace(view)
    assert rendering.view_json(equal) == first
    assert first == rendering.session_view_model(view).model_dump_json().encode()
    other = rendering.view_json(dataclasses.replace(view, version=4))
    assert b'"version":4' in other and other != first


@pytest.mark.parametrize("status", [200, 201])
def test_a_ready_json_body_gets_the_headers_starlette_gives_it(status: int) -> None:
    body = b'{"detail":"\xc3\xa9"}'
    ready = rendering.JsonBytesResponse(body, status)
    plain = Response(body, status_code=status, media_type="application/json")
    assert (ready.status_code, ready.body, ready.background) == (status, body, None)
    assert ready.raw_headers == plain.raw_headers
    assert ready.headers == plain.headers
