"""The signed-in learner's profile and link codes."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import Out
from core.service.accounts import AccountProfile


class CompletedOut(Out):
    challenge_id: str
    session_id: str
    xp: int
    granted_at: str


class SessionSummaryOut(Out):
    session_id: str
    challenge_id: str
    challenge_version: int
    status: str
    step_index: int
    total_steps: int
    score: float
    max_score: float
    passed: bool | None
    created_at: str
    updated_at: str


class IdentityOut(Out):
    platform: str
    external_id: str
    display_name: str
    created_at: str


class MeOut(Out):
    id: str
    email: str | None
    display_name: str
    role: str
    xp: int
    level: int
    level_start_xp: int = Field(description="Total XP at which the current level began.")
    next_level_xp: int = Field(description="Total XP at which the next level begins.")
    completed: list[CompletedOut]
    sessions: list[SessionSummaryOut]
    identities: list[IdentityOut]


class LinkCodeOut(Out):
    code: str = Field(description="Type it into a chat bot: `/link CODE`. One use, short-lived.")
    expires_at: str


def me_out(account: AccountProfile) -> MeOut:
    profile = account.profile
    return MeOut(
        id=profile.learner_id,
        email=account.email,
        display_name=profile.display_name,
        role=profile.role,
        xp=profile.xp,
        level=profile.level,
        level_start_xp=profile.level_start_xp,
        next_level_xp=profile.next_level_xp,
        completed=[CompletedOut.model_validate(grant) for grant in profile.completed],
        sessions=[SessionSummaryOut.model_validate(s) for s in profile.sessions],
        identities=[IdentityOut.model_validate(i) for i in account.identities],
    )
