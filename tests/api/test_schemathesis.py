"""Property-based: schemathesis drives every operation in /openapi.json in process (ASGI, no
network) with generated input, signed in as a learner. No request may end in a server error, and
every response must be one the schema documents (status, content type, body)."""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.service.actor import Actor
from tests.api.conftest import PASSWORD, make_services

MAX_EXAMPLES = 25


def _signed_in_app():
    async def build():
        services = await make_services(login_rate_limit_per_minute=1000)
        signed = await services.accounts.register("fuzz@example.com", PASSWORD, "Fuzz")
        await services.game.create_session(Actor(signed.account.learner_id), "quiz")
        return services, signed

    services, signed = asyncio.run(build())
    app = create_app(services)
    return app, app.state.runtime.tokens.issue(signed.account.learner_id, "learner").token


APP, TOKEN = _signed_in_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_ends_in_a_server_error(case):
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
