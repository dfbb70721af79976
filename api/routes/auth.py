"""Registration, sign-in (JSON or the OAuth2 password form), token refresh and sign-out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import ClientIp, LimitsDep, RuntimeDep, ServicesDep
from api.runtime import Runtime
from api.schemas.auth import LoginIn, RefreshIn, RegisterIn, TokenPair
from api.schemas.common import errors
from core.errors import DomainError
from core.service.accounts import SignedIn

router = APIRouter(prefix="/api/auth", tags=["auth"])

LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginIn.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "maxLength": 320, "description": "Email"},
                        "password": {"type": "string", "maxLength": 1024, "format": "password"},
                        "grant_type": {"type": "string", "enum": ["password"]},
                    },
                }
            },
        },
    }
}


def token_pair(runtime: Runtime, signed: SignedIn) -> TokenPair:
    access = runtime.tokens.issue(signed.account.learner_id, signed.account.role)
    return TokenPair(
        access_token=access.token, refresh_token=signed.refresh_token, expires_in=access.expires_in
    )


async def read_login(request: Request) -> LoginIn:
    """The credentials, from a JSON body or (for /docs) an OAuth2 password form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            form = await request.form()
            return LoginIn.model_validate(
                {"email": form.get("username"), "password": form.get("password")}
            )
        if content_type in ("application/json", ""):
            return LoginIn.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None
    raise DomainError("send JSON {email, password} or an OAuth2 password form")  # 400


@router.post(
    "/register",
    status_code=201,
    response_model=TokenPair,
    responses=errors(400, 409, 413, 422, 429, 503),
    summary="Create a learner account and sign in",
)
async def register(
    body: RegisterIn, services: ServicesDep, runtime: RuntimeDep, limits: LimitsDep, ip: ClientIp
) -> TokenPair:
    await limits.before_register(ip, body.email)
    signed = await services.accounts.register(body.email, body.password, body.display_name)
    return token_pair(runtime, signed)


@router.post(
    "/login",
    response_model=TokenPair,
    responses=errors(400, 401, 413, 422, 429, 503),
    openapi_extra=LOGIN_BODY,
    summary="Sign in with email and password",
)
async def login(
    request: Request, services: ServicesDep, runtime: RuntimeDep, limits: LimitsDep, ip: ClientIp
) -> TokenPair:
    credentials = await read_login(request)
    attempt = await limits.before_login(ip, credentials.email)
    signed = await services.accounts.authenticate(credentials.email, credentials.password)
    await limits.login_succeeded(attempt)
    return token_pair(runtime, signed)


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=errors(400, 401, 413, 422, 503),
    summary="Swap a refresh token for a new pair (the old one is spent)",
)
async def refresh(body: RefreshIn, services: ServicesDep, runtime: RuntimeDep) -> TokenPair:
    return token_pair(runtime, await services.accounts.refresh(body.refresh_token))


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses=errors(400, 413, 422, 503),
    summary="End the sign-in this refresh token belongs to",
)
async def logout(body: RefreshIn, services: ServicesDep) -> Response:
    await services.accounts.logout(body.refresh_token)
    return Response(status_code=204)
