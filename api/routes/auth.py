"""Registration, sign-in (JSON or the OAuth2 password form), token refresh and sign-out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import ClientIp, LimitsDep, RuntimeDep, ServicesDep
from api.fast_route import PrefixRoute
from api.runtime import Runtime
from api.schemas.auth import LoginIn, RefreshIn, RegisterIn, TokenPair
from api.schemas.common import errors
from core.errors import DomainError
from core.service.accounts import SignedIn

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=PrefixRoute)

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


# The SPA's refresh token lives only in this cookie: HttpOnly (no page script can read it),
# Secure, SameSite=Strict (never sent by another site's request) and scoped to /api/auth.
REFRESH_COOKIE = "__Secure-curiouscore-refresh"
COOKIE_PATH = "/api/auth"
COOKIE_MODE = "x-refresh-cookie"


def token_pair(
    runtime: Runtime, signed: SignedIn, response: Response, *, cookie: bool
) -> TokenPair:
    """The access token, and the refresh token in the JSON (API clients) or the cookie (SPA)."""
    access = runtime.tokens.issue(
        signed.account.learner_id, signed.account.role, signed.token_version
    )
    if cookie:
        response.set_cookie(
            REFRESH_COOKIE,
            signed.refresh_token,
            max_age=runtime.settings.refresh_token_expire_days * 86_400,
            path=COOKIE_PATH,
            secure=True,
            httponly=True,
            samesite="strict",
        )
    return TokenPair(
        access_token=access.token,
        refresh_token=None if cookie else signed.refresh_token,
        expires_in=access.expires_in,
    )


def wants_cookie(request: Request) -> bool:
    return request.headers.get(COOKIE_MODE, "").strip() == "1"


def forget_cookie(response: Response) -> None:
    response.delete_cookie(
        REFRESH_COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict"
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
    body: RegisterIn,
    request: Request,
    response: Response,
    services: ServicesDep,
    runtime: RuntimeDep,
    limits: LimitsDep,
    ip: ClientIp,
) -> TokenPair:
    await limits.before_register(ip, body.email)
    signed = await services.accounts.register(body.email, body.password, body.display_name)
    return token_pair(runtime, signed, response, cookie=wants_cookie(request))


@router.post(
    "/login",
    response_model=TokenPair,
    responses=errors(400, 401, 413, 422, 429, 503),
    openapi_extra=LOGIN_BODY,
    summary="Sign in with email and password",
)
async def login(
    request: Request,
    response: Response,
    services: ServicesDep,
    runtime: RuntimeDep,
    limits: LimitsDep,
    ip: ClientIp,
) -> TokenPair:
    credentials = await read_login(request)
    attempt = await limits.before_login(ip, credentials.email)
    signed = await services.accounts.authenticate(credentials.email, credentials.password)
    await limits.login_succeeded(attempt)
    return token_pair(runtime, signed, response, cookie=wants_cookie(request))


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses=errors(400, 401, 413, 422, 503),
    summary="Swap a refresh token (JSON body, or the SPA's cookie) for a new pair; the old one is spent",
)
async def refresh(
    request: Request,
    response: Response,
    services: ServicesDep,
    runtime: RuntimeDep,
    body: RefreshIn | None = None,
) -> TokenPair:
    from_cookie = body is None
    token = request.cookies.get(REFRESH_COOKIE, "") if body is None else body.refresh_token
    signed = await services.accounts.refresh(token)
    return token_pair(runtime, signed, response, cookie=from_cookie or wants_cookie(request))


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses=errors(400, 413, 422, 503),
    summary="End the sign-in of this refresh token (JSON body, or the cookie); its access tokens stop working",
)
async def logout(
    request: Request, services: ServicesDep, body: RefreshIn | None = None
) -> Response:
    token = request.cookies.get(REFRESH_COOKIE, "") if body is None else body.refresh_token
    await services.accounts.logout(token)
    response = Response(status_code=204)
    forget_cookie(response)
    return response
