"""FastAPI's and Starlette's private names the fast paths lean on, found and checked once, at import.

``api.fast_route`` and ``api.dispatch`` answer the hot routes with a few of the frameworks' own
private functions and attributes, which spare every request FastAPI's generic bookkeeping
(benchmarks/README.md "Session 5: the API layer"; the figure is below). Nothing promises them
from one release to the next, and ``pyproject.toml`` takes any newer FastAPI: a renamed one must
not stop the app from importing. So they are looked up here,
each by name, their calls checked against the arguments the fast paths pass (``inspect``), and the
private attributes read off small probes (a route with a body, an ``ExceptionMiddleware`` run over
an app that returns at once). :data:`INTERNALS` holds them when everything fits, else it is None,
:data:`MISSING` says what did not fit, and the fast paths stand aside: no ``FastRoute`` gets a plan,
so every route is FastAPI's ``APIRoute`` and the router finds it, as in a plain FastAPI app: the
same answers, slower (issue 17's flow, ``benchmarks/bench_asgi.py --callgrind``: 1,807k instead of
1,121k instructions per request). :func:`warn_if_missing` logs that once, when the app is built.

Not checked here: the scope keys FastAPI sets for an included router's matching and for native
telemetry (``"fastapi"``, ``"fastapi.telemetry"``), read by ``api.dispatch`` and
``api.fast_route`` to step aside; a rename there shows in their tests, not at startup.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fastapi
import starlette
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.middleware.exceptions import ExceptionMiddleware

if TYPE_CHECKING:
    from fastapi._compat import ModelField
    from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

# Each private function: where it is, its name, and how many positional arguments the fast paths
# call it with (None: a class).
PRIVATE_NAMES: tuple[tuple[str, str, int | None], ...] = (
    ("fastapi._compat", "ModelField", None),
    ("fastapi._compat.shared", "field_annotation_is_sequence", 1),
    ("fastapi.dependencies.utils", "_get_form_models", 1),
    ("fastapi.dependencies.utils", "_get_param_aliases", 1),
    ("fastapi.dependencies.utils", "_should_embed_body_fields", 1),
    ("fastapi.dependencies.utils", "request_body_to_args", 3),
    ("starlette._exception_handler", "_lookup_exception_handler", 2),
    ("starlette._utils", "is_async_callable", 1),
)
# What ``FastPlan.of`` reads of a route's dependency graph to decide it can plan it.
DEPENDANT_FIELDS = frozenset(
    {
        "call",
        "name",
        "path_params",
        "query_params",
        "header_params",
        "cookie_params",
        "body_params",
        "dependencies",
        "request_param_name",
        "websocket_param_name",
        "http_connection_param_name",
        "response_param_name",
        "background_tasks_param_name",
        "security_scopes_param_name",
        "use_cache",
        "scope",
    }
)
# Where Starlette's ``ExceptionMiddleware`` leaves the app's handlers for the handling around the
# endpoint (``wrap_app_handling_exceptions``); ``api.dispatch.FrameworkShortcut`` puts them there.
HANDLERS_KEY = "starlette.exception_handlers"
HANDLER_ATTRIBUTES = ("_exception_handlers", "_status_handlers")

Handlers = tuple[dict[Any, Any], dict[Any, Any]]


@dataclass(frozen=True)
class Internals:
    """The frameworks' private functions, found and checked (module docstring)."""

    model_field: type[ModelField]
    field_annotation_is_sequence: Callable[[Any], bool]
    get_form_models: Callable[[ModelField], list[Any]]
    get_param_aliases: Callable[[ModelField], list[tuple[str, str]]]
    should_embed_body_fields: Callable[[list[ModelField]], bool]
    request_body_to_args: Callable[
        [list[ModelField], Any, bool], Awaitable[tuple[dict[str, Any], list[dict[str, Any]]]]
    ]
    lookup_exception_handler: Callable[[Any, Exception], Any]
    is_async_callable: Callable[[Any], bool]

    @staticmethod
    def embed_body_fields(route: APIRoute) -> bool:
        """Whether FastAPI reads ``route``'s body as an object of its body parameters."""
        embed: bool = route._embed_body_fields
        return embed

    @staticmethod
    def type_adapter(field: ModelField) -> TypeAdapter[Any] | None:
        """The pydantic adapter ``field.validate`` validates with, when it is one."""
        adapter = getattr(field, "_type_adapter", None)
        return adapter if isinstance(adapter, TypeAdapter) else None

    @staticmethod
    def exception_handlers(middleware: ExceptionMiddleware) -> Handlers:
        """The handlers ``middleware`` puts in the scope: by exception class, by status."""
        return middleware._exception_handlers, middleware._status_handlers


def find() -> tuple[Internals | None, tuple[str, ...]]:
    """The internals, or None and what is missing or does not fit (each as a short phrase)."""
    found: list[Any] = []
    missing: list[str] = []
    for module_name, name, positional in PRIVATE_NAMES:
        where = f"{module_name}.{name}"
        try:
            value = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            missing.append(where)
            continue
        if positional is not None and not _takes(value, positional):
            missing.append(f"{where} (not callable with {positional} positional arguments)")
        found.append(value)
    if missing:
        return None, tuple(missing)
    internals = Internals(*found)
    try:
        missing.extend(_shape_problems(internals))
    except Exception as error:  # a probe a new release breaks: stand aside, rather than not start
        missing.append(f"the probes of api/framework_internals.py ({error!r})")
    return (None, tuple(missing)) if missing else (internals, ())


def _takes(function: Any, positional: int) -> bool:
    try:
        inspect.signature(function).bind(*(None,) * positional)
    except (TypeError, ValueError):  # ValueError: no signature to read
        return False
    return True


def _shape_problems(internals: Internals) -> list[str]:
    """What of the private attributes and the handlers' scope key is not as the fast paths read
    them, read off a route with a JSON body and a Starlette ``ExceptionMiddleware``."""
    problems = []
    fields = {field.name for field in dataclasses.fields(Dependant)}
    problems += [f"fastapi Dependant.{name}" for name in sorted(DEPENDANT_FIELDS - fields)]
    if not _takes(internals.model_field.validate, 2):
        problems.append("fastapi ModelField.validate (not callable with a value)")

    async def probe(body: dict[str, int]) -> None:
        """A route with one body parameter, as the session routes have."""

    route = APIRoute("/probe", probe, methods=["POST"])
    body = route.dependant.body_params
    if not isinstance(getattr(route, "_embed_body_fields", None), bool):
        problems.append("fastapi APIRoute._embed_body_fields")
    if not body or not isinstance(body[0], internals.model_field):
        problems.append("fastapi ModelField (not a route's body field)")
    elif internals.type_adapter(body[0]) is None:
        problems.append("fastapi ModelField._type_adapter")
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)

    middleware = ExceptionMiddleware(app)
    handlers = tuple(getattr(middleware, name, None) for name in HANDLER_ATTRIBUTES)
    if not all(isinstance(handler, dict) for handler in handlers):
        problems.append("starlette ExceptionMiddleware._exception_handlers/_status_handlers")
    else:
        # Nothing in it awaits anything but ``app``: it runs to its end in one step.
        call = middleware({"type": "http", "headers": []}, _never, _never)
        try:
            call.send(None)
        except StopIteration:
            pass
        finally:
            call.close()
        if seen.get(HANDLERS_KEY) != handlers:
            problems.append(f"starlette ExceptionMiddleware's scope[{HANDLERS_KEY!r}]")
    return problems


async def _never(*args: Any) -> Any:
    raise AssertionError("the probe's app neither reads nor sends")


def versions() -> str:
    """The installed FastAPI and Starlette, as ``fastapi 0.165.0, starlette 1.10.0``."""
    return f"fastapi {fastapi.__version__}, starlette {starlette.__version__}"


def warn_if_missing() -> None:
    """Log, once per app built, that the fast paths stand aside and why (nothing when they run)."""
    if MISSING:
        log.warning(
            "the hot routes run on FastAPI's own handling (correct, slower): this FastAPI or "
            "Starlette lacks or changed what api/framework_internals.py uses: %s (%s)",
            "; ".join(MISSING),
            versions(),
        )


INTERNALS, MISSING = find()
