"""The hot routes' request handler: FastAPI's own validation, without its per-request bookkeeping.

For every request FastAPI re-reads and re-parses the JSON body (the text guard has parsed it
already), walks the route's dependency graph generically (cache keys, scope checks, generator
checks, a recursion per dependency) and looks up the endpoint's telemetry context; on the session
routes that was about a sixth of the server's CPU per request. :class:`FastRoute` is an ``APIRoute``
(same OpenAPI, same validation errors) whose handler, when a request is the ordinary case, validates
the path, header and body parameters with FastAPI's own functions, calls the route's dependencies
directly in FastAPI's order, and calls the endpoint. Anything else — a body the guard did not parse
as JSON, any validation error, a dependency the plan does not know, dependency overrides, native
OpenTelemetry at work — goes through FastAPI's handler unchanged, which answers exactly as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from api.deps import DIRECT_DEPENDENCIES
from api.text_guard import SUBMITTED_JSON

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Direct = Callable[[Request], Awaitable[Any]]
# What the SPA, the bots and the benchmark send; any other spelling takes FastAPI's own path.
JSON_MEDIA = (b"application/json",)


class FastPlan:
    """What a route's request needs, worked out once: its parameters and direct dependencies."""

    def __init__(self, route: APIRoute, dependencies: list[tuple[str, Direct]]) -> None:
        dependant = route.dependant
        self.endpoint = dependant.call
        self.path_params = dependant.path_params
        self.header_params = dependant.header_params
        self.body_params = dependant.body_params
        self.embed_body_fields = route._embed_body_fields
        self.dependencies = dependencies

    @classmethod
    def of(cls, route: APIRoute) -> FastPlan | None:
        """The plan of ``route``, or None when its request needs something only FastAPI does."""
        dependant = route.dependant
        call = dependant.call
        if (
            call is None
            or not inspect.iscoroutinefunction(call)
            or inspect.signature(call).return_annotation not in (Response, "Response")
            or dependant.query_params
            or dependant.cookie_params
            or dependant.request_param_name
            or dependant.websocket_param_name
            or dependant.http_connection_param_name
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.security_scopes_param_name
            or len(dependant.body_params) > 1
            or (route.body_field is not None and route._embed_body_fields)
        ):
            return None
        dependencies: list[tuple[str, Direct]] = []
        for sub in dependant.dependencies:
            direct = DIRECT_DEPENDENCIES.get(sub.call)  # type: ignore[arg-type]
            if direct is None or sub.name is None or _uses_more(sub):
                return None
            dependencies.append((sub.name, direct))
        return cls(route, dependencies)

    async def values(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's validated arguments except the dependencies, or None when the request
        is not the ordinary case (FastAPI's handler then answers it)."""
        scope = request.scope
        values: dict[str, Any] = {}
        if self.path_params:
            found, errors = request_params_to_args(self.path_params, scope["path_params"])
            if errors:
                return None
            values.update(found)
        if self.header_params:
            found, errors = request_params_to_args(self.header_params, request.headers)
            if errors:
                return None
            values.update(found)
        if self.body_params:
            state = scope.get("state")
            if not state or SUBMITTED_JSON not in state or not _json_content(scope):
                return None
            found, errors = await request_body_to_args(
                self.body_params, state[SUBMITTED_JSON], self.embed_body_fields
            )
            if errors:
                return None
            values.update(found)
        return values


def _uses_more(sub: Dependant) -> bool:
    """True when a dependency has anything of its own beyond what its direct version reads."""
    return bool(
        sub.path_params
        or sub.query_params
        or sub.cookie_params
        or sub.body_params
        or sub.use_cache is False
        or sub.scope
    )


def _json_content(scope: Any) -> bool:
    content_type = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is not None:
                return False  # two of them: FastAPI decides
            content_type = value
    return content_type is not None and content_type.lower() in JSON_MEDIA


class FastRoute(APIRoute):
    """An ``APIRoute`` whose ordinary requests skip FastAPI's generic per-request work (see the
    module docstring); its OpenAPI entry and every refusal are FastAPI's own."""

    def get_route_handler(self) -> Handler:
        framework = super().get_route_handler()
        plan = FastPlan.of(self)
        self.fast_plan = plan
        if plan is None:
            return framework
        overrides = getattr(self.dependency_overrides_provider, "dependency_overrides", None)
        endpoint: Callable[..., Coroutine[Any, Any, Response]] = plan.endpoint  # type: ignore[assignment]

        async def handler(request: Request) -> Response:
            # Native OpenTelemetry (a configured provider) records FastAPI's own spans: keep them.
            if overrides or "fastapi.telemetry" in request.scope:
                return await framework(request)
            values = await plan.values(request)
            if values is None:
                return await framework(request)
            for name, direct in plan.dependencies:  # in FastAPI's order: the same first refusal
                values[name] = await direct(request)
            return await endpoint(**values)

        return handler
