"""The one place domain and store errors become HTTP responses: JSON ``{"detail": ...}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.text_guard import submitted_strings
from core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidAnswer,
    InvalidContent,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
)
from core.service.code_runs import CodeRunnerUnavailable
from core.store.base import ConcurrencyError, StoreUnavailable

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "the database is unavailable right now; please try again shortly"
STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (CodeRunnerUnavailable, 503),
    (RateLimited, 429),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidAnswer, 422),
    (InvalidInput, 422),
    (InvalidContent, 422),
)


def status_for(error: DomainError) -> int:
    """The HTTP status of a domain error (400 for any the table does not name)."""
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 400


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


# Safe wording for the errors whose core message names what the caller sent (an id, a step).
SAFE_DETAIL = {
    "session_not_found": "there is no such session",
    "challenge_not_found": "there is no such challenge",
    "learner_not_found": "there is no such learner",
    "step_not_current": "that step is no longer current; reload the session",
}
GENERIC_DETAIL = {
    400: "the request cannot be done",
    403: "not allowed",
    404: "not found",
    409: "this no longer fits the current state; reload and try again",
    422: "invalid input",
}
# A plain (unquoted) submitted value shorter than this may be an ordinary word of the message.
PLAIN_ECHO_LENGTH = 12


def submitted_values(request: Request) -> list[str]:
    """What the caller sent as text: path parameters, query values, idempotency key, body strings
    (collected by :mod:`api.text_guard`, which reads every body once)."""
    values = [str(v) for v in request.path_params.values()]
    values.extend(request.query_params.values())
    values.extend(request.headers.getlist("idempotency-key"))
    values.extend(submitted_strings(request.scope.get("state", {})))
    return [value for value in values if value]


def echoes(message: str, value: str) -> bool:
    """True when ``message`` repeats ``value`` (quoted in any way, or long enough to be it)."""
    if repr(value) in message or f'"{value}"' in message or f"'{value}'" in message:
        return True
    return len(value) >= PLAIN_ECHO_LENGTH and value in message


def safe_detail(error: DomainError, status: int, request: Request) -> str:
    """The error's message, unless it repeats something the caller sent (404/409/422 bodies never
    echo submitted values): then a fixed wording for the error."""
    if any(echoes(error.message, value) for value in submitted_values(request)):
        return SAFE_DETAIL.get(error.code) or GENERIC_DETAIL.get(status, GENERIC_DETAIL[400])
    return error.message


async def domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = status_for(error)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if status == 401:
        log.info("authentication failed", extra={"reason": error.code})
    return error_response(status, safe_detail(error, status, request), headers)


async def store_unavailable(_request: Request, error: Exception) -> JSONResponse:
    log.error("database unavailable: %s", error)
    return error_response(503, DATABASE_UNAVAILABLE, {"Retry-After": "5"})


async def concurrency_error(_request: Request, _error: Exception) -> JSONResponse:
    return error_response(409, "someone else changed this at the same time; please try again")


async def validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Only where and what: the submitted values (a password, an answer) are never echoed.
    problems = [
        {
            "loc": list(item.get("loc", ())),
            "msg": str(item.get("msg", "")),
            "type": item.get("type"),
        }
        for item in error.errors()
    ]
    return error_response(422, problems)


async def http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return error_response(error.status_code, error.detail, dict(error.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    """Map every expected error once; anything else is caught by the request middleware."""
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StoreUnavailable, store_unavailable)
    app.add_exception_handler(ConcurrencyError, concurrency_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
