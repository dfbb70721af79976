"""The frameworks' internals the fast paths use (api/framework_internals.py): a release where one
is gone or changed shape is noticed at import, naming it, rather than failing later. What the app
then does is tests/api/test_fast_route.py's (``test_the_fast_path_answers_as_fastapi_does``)."""

from __future__ import annotations

from typing import Any

import fastapi.dependencies.utils
import pytest
from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import Receive, Scope, Send

from api import framework_internals


async def _two_argument_body_to_args(body_fields: Any, received_body: Any) -> Any:
    return {}, []


class _RouteWithoutEmbedFlag(APIRoute):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self._embed_body_fields


class _RenamedHandlers(ExceptionMiddleware):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handlers_by_status = self.__dict__.pop("_status_handlers")


class _HandlersElsewhere(ExceptionMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "handlers": {}}, receive, send)


class _ReadingFirst(ExceptionMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the probe gives it nothing to read: an error, not a failed import
        await super().__call__(scope, receive, send)


@pytest.mark.parametrize(
    ("where", "replacement", "named"),
    [
        (
            fastapi.dependencies.utils,
            ("request_body_to_args", _two_argument_body_to_args),
            "request_body_to_args (not callable with 3 positional arguments)",
        ),
        (framework_internals, ("APIRoute", _RouteWithoutEmbedFlag), "APIRoute._embed_body_fields"),
        (framework_internals, ("ExceptionMiddleware", _RenamedHandlers), "_status_handlers"),
        (
            framework_internals,
            ("ExceptionMiddleware", _HandlersElsewhere),
            "scope['starlette.exception_handlers']",
        ),
        (framework_internals, ("ExceptionMiddleware", _ReadingFirst), "the probes of"),
    ],
    ids=["changed-signature", "route-attribute", "middleware-attribute", "scope-key", "probe"],
)
def test_a_changed_internal_is_found_and_named(monkeypatch, where, replacement, named):
    assert framework_internals.find() == (framework_internals.INTERNALS, ())
    monkeypatch.setattr(where, *replacement)
    internals, missing = framework_internals.find()
    assert internals is None
    assert len(missing) == 1 and named in missing[0], missing
