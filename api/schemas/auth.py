"""Registration, sign-in and token models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RegisterIn(BaseModel):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(max_length=1024, examples=["correct horse battery staple"])
    display_name: str = Field(max_length=200, examples=["Ada"])


class LoginIn(BaseModel):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    password: str = Field(max_length=1024)


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=1024)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str | None = Field(
        description="The new refresh token; null when the request sent `X-Refresh-Cookie: 1` "
        "(or refreshed from the cookie): then it is only in the HttpOnly cookie."
    )
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
