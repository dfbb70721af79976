"""The direct reads the session routes' dependencies make (api/deps.py) answer what FastAPI's own
ones do."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from api.app import create_app
from api.deps import _runtime, bearer, bearer_token

AUTHORIZATIONS: list[list[bytes]] = [
    [],
    [b"Bearer abc.def"],
    [b"bearer abc"],
    [b"BEARER  abc  "],
    [b"Bearer"],
    [b"Bearer "],
    [b""],
    [b"Basic abc"],
    [b"Token abc"],
    [b"Bearerabc"],
    [b"Bearer \xe9t\xe9"],  # latin-1, as Starlette decodes headers
    [b"Basic first", b"Bearer second"],  # the first one counts
    [b"Bearer first", b"Bearer second"],
]


def request_with(headers: list[tuple[bytes, bytes]], app: Any = None) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "app": app}
    return Request(scope)


@pytest.mark.parametrize("values", AUTHORIZATIONS)
async def test_the_bearer_token_is_read_as_oauth2_password_bearer_reads_it(values):
    headers = [(b"host", b"t"), *((b"authorization", value) for value in values)]
    assert bearer_token(request_with(list(headers))) == await bearer(request_with(list(headers)))


def test_the_runtime_is_the_apps(services):
    app = create_app(services, services.settings)
    assert _runtime(request_with([], app)) is app.state.runtime
