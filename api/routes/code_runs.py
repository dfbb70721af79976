"""Code steps: run the visible tests on a draft without spending an attempt ("Run tests")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import ActorDep, ServicesDep
from api.fast_route import PrefixRoute
from api.schemas.common import errors

router = APIRouter(prefix="/api/sessions", tags=["sessions"], route_class=PrefixRoute)


class CodeRunIn(BaseModel):
    step_id: str = Field(min_length=1, max_length=255)
    code: str = Field(min_length=1, max_length=20_000, description="the learner's draft")


class CodeTestOut(BaseModel):
    id: str
    passed: bool
    message: str
    output: str


class CodeRunOut(BaseModel):
    step_id: str
    status: str = Field(description="ok | timeout | output_limit | crashed")
    duration_ms: int
    sandbox: str
    tests: list[CodeTestOut] = Field(description="the visible tests only")


@router.post(
    "/{session_id}/run",
    response_model=CodeRunOut,
    responses=errors(400, 401, 404, 409, 413, 422, 429, 503),
)
async def run_visible_tests(
    session_id: Annotated[str, Path(min_length=1, max_length=255)],
    body: CodeRunIn,
    actor: ActorDep,
    services: ServicesDep,
) -> CodeRunOut:
    """Run the current code step's visible tests on ``code``: nothing is recorded (rate limited)."""
    trial = await services.game.try_code(actor, session_id, body.step_id, body.code)
    return CodeRunOut(
        step_id=trial.step_id,
        status=trial.status,
        duration_ms=trial.duration_ms,
        sandbox=trial.sandbox,
        tests=[
            CodeTestOut(id=t.id, passed=t.passed, message=t.message, output=t.output)
            for t in trial.tests
        ],
    )
