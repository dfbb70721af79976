"""The one place domain and store errors become HTTP responses: JSON ``{"detail": ...}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


async def domain_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status = status_for(error)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if status == 401:
        log.info("authentication failed", extra={"reason": error.code})
    return error_response(status, error.message, headers)


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
