"""The hot routes' request handler: FastAPI's own validation, without its per-request bookkeeping.

For every request FastAPI re-reads and re-parses the JSON body (the text guard has parsed it
already), walks the route's dependency graph generically (cache keys, scope checks, generator
checks, a recursion per dependency, alias and shape lookups per parameter), opens two exit stacks
and looks up the endpoint's telemetry context; on the session routes that was about a sixth of the
API layer's CPU per request (py-spy, benchmarks/README.md "Session 5: the API layer").

:class:`FastRoute` is an ``APIRoute`` (same OpenAPI, same validation errors) planned once: when a
request is the ordinary case it validates the path, header and body parameters with FastAPI's own
field validators, calls the route's dependencies directly (``api.deps.DIRECT_DEPENDENCIES``) in
FastAPI's order, and calls the endpoint, inside Starlette's usual exception handling. Anything else
— a body the guard did not parse as JSON, any validation error, a dependency the plan does not
know, dependency overrides, native OpenTelemetry at work — goes through FastAPI's own app, which
answers exactly as before (``tests/api/test_fast_route.py`` compares the two).

A plan uses a few of FastAPI's and Starlette's private functions and attributes, all taken from
``api.framework_internals``, which checks them once at import. On a release where one is gone or
changed no route gets a plan: every ``FastRoute`` is then FastAPI's ``APIRoute`` (with
``PrefixRoute``'s early refusal of paths it cannot match), and the app answers as before, slower.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import params
from fastapi.routing import APIRoute
from pydantic import Json
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import DIRECT_DEPENDENCIES
from api.dispatch import FILE_STACK
from api.framework_internals import HANDLERS_KEY, INTERNALS, Internals
from api.text_guard import SUBMITTED_JSON

if TYPE_CHECKING:
    from fastapi._compat import ModelField
    from fastapi.dependencies.models import Dependant

Direct = Callable[[Request], Awaitable[Any]]
# What the SPA, the bots and the benchmark send; any other spelling takes FastAPI's own path.
JSON_MEDIA = (b"application/json",)
# A response whose class sends what Starlette's ``Response`` sends (``FastRoute`` sends it itself).
RESPONSE_CALL = Response.__call__


# What ``copy.deepcopy`` gives back unchanged (``copy._deepcopy_atomic``): a default of one of
# these types is used as it is, without a deep copy per request.
ATOMIC = (type(None), bool, int, float, str, bytes)


def core_validator(internals: Internals, field: ModelField) -> Callable[[Any], Any]:
    """A function validating a value as ``field.validate`` does, raising ``ValueError`` (pydantic's
    ``ValidationError`` is one) where that returns errors: the field's pydantic-core validator
    called straight, without the two Python frames around it (``ModelField.validate``,
    ``TypeAdapter.validate_python``), when the field is FastAPI's own ``ModelField``; else
    ``field.validate`` itself. The errors themselves are FastAPI's to work out (its handler answers
    every request this turns down). With the headers read raw (``header``) and no deep copy of an
    atomic default: −8.2k instructions per request in issue 17's flow (``bench_asgi.py``)."""
    adapter = internals.type_adapter(field)
    if type(field).validate is internals.model_field.validate and adapter is not None:
        return partial(adapter.validator.validate_python, from_attributes=True)

    def validate(value: Any) -> Any:
        validated, errors = field.validate(value, {}, loc=())
        if errors:
            raise ValueError(field.name)
        return validated

    return validate


class Param:
    """A scalar path or header parameter: where it is read, and how FastAPI validates it."""

    def __init__(self, internals: Internals, field: ModelField, where: str, key: str) -> None:
        self.field = field
        self.name = field.name
        self.key = key
        # A header's name as an ASGI server gives it, for ``header``.
        self.raw_key = key.lower().encode("latin-1")
        self.loc = (where, key)
        self.required = field.field_info.is_required()
        self.validate_default = bool(field.field_info.validate_default)
        self.validate = core_validator(internals, field)
        self.atomic_default = type(field.default) in ATOMIC

    @classmethod
    def of(cls, internals: Internals, field: ModelField, where: str) -> Param | None:
        """The parameter, or None when FastAPI reads it in a way this does not (lists, several
        aliases, JSON-in-a-string)."""
        aliases = internals.get_param_aliases(field)
        if (
            len(aliases) != 1
            or internals.field_annotation_is_sequence(field.field_info.annotation)
            or any(type(item) is Json for item in field.field_info.metadata)
        ):
            return None
        return cls(internals, field, where, aliases[0][1])

    def value(self, raw: Any) -> tuple[bool, Any]:
        """(valid, value) as FastAPI's ``request_params_to_args`` works it out from ``raw``, what
        the request has under the parameter's key (None when nothing)."""
        if raw is None:
            if self.required:
                return False, None
            default = self.field.default
            if not self.atomic_default:
                default = copy.deepcopy(default)
            if not self.validate_default:
                return True, default
            raw = default
        try:
            return True, self.validate(raw)
        except ValueError:  # FastAPI's handler then answers, with its errors
            return False, None


class FastPlan:
    """What a route's request needs, worked out once: its parameters and direct dependencies."""

    def __init__(
        self,
        internals: Internals,
        route: APIRoute,
        path_params: list[Param],
        header_params: list[Param],
        dependencies: list[tuple[str, Direct]],
    ) -> None:
        dependant = route.dependant
        self.endpoint = dependant.call
        self.path_params = path_params
        self.header_params = header_params
        self.body_params = dependant.body_params
        self.embed_body_fields = internals.embed_body_fields(route)
        self.request_body_to_args = internals.request_body_to_args
        # What ``request_body_to_args`` works out on every request from these alone: one body
        # parameter that is the whole body (a JSON object validated as the parameter's model).
        self.whole_body = (
            self.body_params[0]
            if len(self.body_params) == 1
            and not self.embed_body_fields
            and not internals.should_embed_body_fields(self.body_params)
            and not internals.get_form_models(self.body_params[0])
            else None
        )
        self.validate_whole_body = (
            core_validator(internals, self.whole_body) if self.whole_body is not None else None
        )
        self.dependencies = dependencies
        self.internals = internals

    @classmethod
    def of(cls, route: APIRoute) -> FastPlan | None:
        """The plan of ``route``, or None when its request needs something only FastAPI does, or
        this FastAPI lacks what a plan uses (``api.framework_internals``)."""
        internals = INTERNALS
        dependant = route.dependant
        call = dependant.call
        if (
            internals is None
            or call is None
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
            or (route.body_field is not None and internals.embed_body_fields(route))
            # a form or file body is FastAPI's to read, whatever the request's content type says
            or any(isinstance(f.field_info, params.Form) for f in dependant.body_params)
        ):
            return None
        path_params = [Param.of(internals, field, "path") for field in dependant.path_params]
        header_params = [Param.of(internals, field, "header") for field in dependant.header_params]
        dependencies: list[tuple[str, Direct]] = []
        for sub in dependant.dependencies:
            direct = DIRECT_DEPENDENCIES.get(sub.call)  # type: ignore[arg-type]
            if direct is None or sub.name is None or _uses_more(sub):
                return None
            dependencies.append((sub.name, direct))
        if None in path_params or None in header_params:
            return None
        return cls(internals, route, path_params, header_params, dependencies)  # type: ignore[arg-type]

    async def values(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's validated arguments except the dependencies, or None when the request
        is not the ordinary case (FastAPI's handler then answers it)."""
        scope = request.scope
        values: dict[str, Any] = {}
        path_params = scope["path_params"]
        for param in self.path_params:
            valid, values[param.name] = param.value(path_params.get(param.key))
            if not valid:
                return None
        for param in self.header_params:
            valid, values[param.name] = param.value(header(scope, param.raw_key))
            if not valid:
                return None
        if self.body_params:
            state = scope.get("state")
            if not state or SUBMITTED_JSON not in state or not _json_content(scope):
                return None
            document = state[SUBMITTED_JSON]
            field = self.whole_body
            if field is not None:  # request_body_to_args's first case, without working it out
                try:
                    values[field.name] = self.validate_whole_body(document)  # type: ignore[misc]
                except ValueError:
                    return None
                return values
            found, errors = await self.request_body_to_args(
                self.body_params, document, self.embed_body_fields
            )
            if errors:
                return None
            values.update(found)
        return values


def header(scope: Scope, name: bytes) -> str | None:
    """The first header called ``name`` (lower case), as ``request.headers.get`` reads it, without
    building the request's ``Headers``."""
    for key, value in scope["headers"]:
        if key == name:
            found: str = value.decode("latin-1")
            return found
    return None


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


async def handle_exception(
    internals: Internals,
    exc: Exception,
    request: Request,
    receive: Receive,
    send: Send,
    *,
    started: bool,
) -> None:
    """What Starlette's ``wrap_app_handling_exceptions`` does with an exception the app raised:
    the app's handler for it (by status, then by class) answers, or it is raised again; a handled
    exception after the response ``started`` is a RuntimeError."""
    scope = request.scope
    exception_handlers, status_handlers = scope.get(HANDLERS_KEY, ({}, {}))
    handler = None
    if isinstance(exc, HTTPException):
        handler = status_handlers.get(exc.status_code)
    if handler is None:
        handler = internals.lookup_exception_handler(exception_handlers, exc)
    if handler is None:
        raise exc
    if started:
        raise RuntimeError("Caught handled exception, but response already started.") from exc
    if internals.is_async_callable(handler):
        response = await handler(request, exc)
    else:
        response = await run_in_threadpool(handler, request, exc)
    if response is not None:
        await response(scope, receive, send)
    # Reused exception instances accumulate tracebacks across requests.
    exc.__traceback__ = None


class PrefixRoute(APIRoute):
    """An ``APIRoute`` that turns a request down on its path's fixed parts before matching it.

    The app's router tries its routes in order, each a method call, a scope lookup and a regex; a
    session request used to be tried against every route before the session routes. The pattern
    of ``/api/sessions/{session_id}/start`` is ``^/api/sessions/(…)/start$``, so a path that does
    not start with its fixed head (everything before the first ``{``), does not end with its fixed
    tail (everything after the last ``}``) — or, for a path without parameters, is not the path —
    cannot match it: the answer is the same, sooner. Behind a ``root_path`` or inside an included
    router (where FastAPI matches another path) it matches as FastAPI does."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        fixed = self.path_format
        self.literal_prefix = fixed.split("{", 1)[0]
        self.literal_suffix = fixed.rsplit("}", 1)[1] if "{" in fixed else None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and self._cannot_match(scope["path"])
            and not scope.get("root_path")
            and scope.get("fastapi", {}).get("effective_route_context") is None
        ):
            return Match.NONE, {}
        return super().matches(scope)

    def _cannot_match(self, path: str) -> bool:
        if self.literal_suffix is None:
            return path != self.literal_prefix
        return not (path.startswith(self.literal_prefix) and path.endswith(self.literal_suffix))


class FastRoute(PrefixRoute):
    """A :class:`PrefixRoute` whose ordinary requests skip FastAPI's generic per-request work (see
    the module docstring); its OpenAPI entry and every refusal are FastAPI's own."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.fast_plan = FastPlan.of(self)
        # The app answering ordinary requests fast (None without a plan); ``route.app`` is it
        # unless something (a test) replaced it.
        self.fast_app: ASGIApp | None = None
        if self.fast_plan is not None and kwargs.get("max_body_size") is None:
            self.app = self.fast_app = self._fast_app(self.fast_plan, self.app)

    def _fast_app(self, plan: FastPlan, framework: ASGIApp) -> ASGIApp:
        """The route's ASGI app: ``plan`` for ordinary requests, else FastAPI's own ``framework``
        (which starts over from the scope: the fast path reads no body and calls nothing first).

        FastAPI's wrapper also opens two exit stacks per request for dependencies with ``yield``;
        a plan has none, so only the exception handling is kept: Starlette's
        ``wrap_app_handling_exceptions`` done in this frame (``handle_exception``), the same
        handlers and answers without two more frames around the endpoint (−8.4k instructions per
        request in issue 17's flow, ``benchmarks/bench_asgi.py --callgrind``)."""
        overrides = getattr(self.dependency_overrides_provider, "dependency_overrides", None)
        endpoint: Callable[..., Coroutine[Any, Any, Response]] = plan.endpoint  # type: ignore[assignment]
        internals = plan.internals

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            # Native OpenTelemetry (a configured provider) records FastAPI's own spans: keep them.
            if overrides or "fastapi.telemetry" in scope:
                await self._framework(framework, scope, receive, send)
                return
            request = Request(scope, receive, send)
            # Everything this app runs is inside the handling, reading the arguments too: what
            # leaves it is what no handler takes (``api.dispatch.FrameworkShortcut`` counts on it).
            try:
                values = await plan.values(request)
                if values is not None:
                    for name, direct in plan.dependencies:  # FastAPI's order: the same refusal
                        values[name] = await direct(request)
                    response = await endpoint(**values)
            except Exception as exc:
                await handle_exception(internals, exc, request, receive, send, started=False)
                return
            if values is None:
                await self._framework(framework, scope, receive, send)
                return
            if type(response).__call__ is RESPONSE_CALL:
                # ``Response.__call__``'s two messages (an http scope: no websocket denial), sent
                # from this frame: no call of it and no wrapped ``send`` to note the start (−6.8k
                # instructions per request). Every exception here comes once the start is being
                # sent, when the wrapper below would have noted it: ``started``.
                try:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": response.status_code,
                            "headers": response.raw_headers,
                        }
                    )
                    await send({"type": "http.response.body", "body": response.body})
                    if response.background is not None:
                        await response.background()
                except Exception as exc:
                    await handle_exception(internals, exc, request, receive, send, started=True)
                return
            started = False

            async def sender(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                await send(message)

            try:
                await response(scope, receive, sender)
            except Exception as exc:
                await handle_exception(internals, exc, request, receive, sender, started=started)

        return app

    @staticmethod
    async def _framework(framework: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own handler, with the exit stack it expects in the scope: the one
        ``AsyncExitStackMiddleware`` opened, or, for a request that came past it
        (``api.dispatch.FrameworkShortcut``), one opened and closed here around the handler as
        that middleware would."""
        if FILE_STACK in scope:
            await framework(scope, receive, send)
            return
        async with AsyncExitStack() as stack:
            scope[FILE_STACK] = stack
            await framework(scope, receive, send)
