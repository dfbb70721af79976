"""Models shared by several resources."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    """Every error: ``detail`` is a message, or a list of field problems for 422."""

    detail: str | list[dict[str, Any]] = Field(examples=["there is no session 'abc'"])


class Out(BaseModel):
    """Response models accept objects (dataclasses from core) as well as dicts."""

    model_config = ConfigDict(from_attributes=True)


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Not signed in, or the token is invalid or expired",
        403: "Signed in, but not allowed",
        404: "Not found (also another learner's session)",
        409: "Conflicts with the session's current state",
        413: "Request body too large",
        422: "Invalid input",
        429: "Rate limited (see Retry-After)",
        503: "Database unavailable",
    }.items()
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries for these error statuses."""
    return {status: ERRORS[status] for status in statuses}
