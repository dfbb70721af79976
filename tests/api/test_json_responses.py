"""Session views are serialised to JSON by Pydantic's Rust core (FastAPI >= 0.130): the session
routes declare their response model and the app sets no custom response class, which would turn
that path off (FastAPI deprecates ORJSONResponse for that reason)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import routing

from tests.api.conftest import new_session, register


async def test_session_views_take_fastapis_pydantic_json_path(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths: list[bool] = []
    serialize = routing.serialize_response

    async def recording(**kwargs: Any) -> Any:
        paths.append(bool(kwargs.get("dump_json")))
        return await serialize(**kwargs)

    ada = await register(client)
    monkeypatch.setattr(routing, "serialize_response", recording)
    session = await new_session(client, ada)
    view = await client.get(f"/api/sessions/{session['session_id']}", headers=ada.headers)

    assert view.status_code == 200
    assert view.headers["content-type"] == "application/json"
    assert view.json()["session_id"] == session["session_id"]
    assert paths and all(paths)  # straight to JSON bytes, no dict + json.dumps
