"""Session views go through Pydantic's Rust core once: validated from the engine's dataclasses
into the documented response model, then serialised straight to JSON bytes. FastAPI does not
validate them a second time (a route that returns a ready response is passed through), and no
dict + ``json.dumps`` step is left."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import routing
from pydantic import BaseModel

from api import rendering
from api.schemas.sessions import SessionViewOut
from core.engine.view import SessionView
from tests.api.conftest import new_session, register


async def test_session_views_are_validated_once_and_serialised_by_pydantic_core(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fastapi_serialised: list[Any] = []
    models: list[BaseModel] = []
    serialize = routing.serialize_response
    session_view_model = rendering.session_view_model

    async def recording_serialize(**kwargs: Any) -> Any:
        fastapi_serialised.append(kwargs.get("response_content"))
        return await serialize(**kwargs)

    def recording_model(view: SessionView) -> BaseModel:
        model = session_view_model(view)
        models.append(model)
        return model

    ada = await register(client)
    monkeypatch.setattr(routing, "serialize_response", recording_serialize)
    monkeypatch.setattr(rendering, "session_view_model", recording_model)
    session = await new_session(client, ada)
    view = await client.get(f"/api/sessions/{session['session_id']}", headers=ada.headers)

    assert view.status_code == 200
    assert view.headers["content-type"] == "application/json"
    assert view.json()["session_id"] == session["session_id"]
    assert models and all(isinstance(model, SessionViewOut) for model in models)
    # the bytes pydantic-core wrote (compact, unlike json.dumps), sent as they are
    assert view.content == models[-1].model_dump_json().encode()
    assert fastapi_serialised == []  # no second validation of the view


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
