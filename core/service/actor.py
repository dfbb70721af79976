"""Who is acting: a learner, or an admin who may see every session; and who recorded an event.

An access token's claim becomes an actor only once checked against the learner's current token
version: up front (``AccountService.check_access``), or by the statement that does the session
request's work (``AccessCheck``; docs/security.md "Sign-outs take effect").

Every stored event names its actor under the data key ``actor``: the learner's id for what a
learner did, or one of the ``system:`` names below for work the platform did on its own (grading,
hints, narration). Chat platforms cannot be called ``system``, so no learner id starts with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import Unauthorized
from core.store.base import AccessClaim, Store

# What a request on an access token that no longer works is told (sign-out, refresh-token reuse,
# role change: docs/security.md "Sign-outs take effect").
SESSION_ENDED = "your sign-in has ended; please log in again"


@dataclass(frozen=True, slots=True)
class Actor:
    """Someone whose right to act is established: a learner whose access token was checked
    against their current token version, or a chat identity or CLI user the platform vouches for.
    An access token not checked yet is an :class:`~core.store.base.AccessClaim` instead."""

    learner_id: str
    role: str = "learner"

    @property
    def is_admin(self) -> bool:
        return is_admin_role(self.role)

    @property
    def can_review(self) -> bool:
        """Reviewers, authors and admins may review grades (issue 14)."""
        return self.role in REVIEW_ROLES


REVIEW_ROLES = frozenset({"reviewer", "author", "admin"})


def is_admin_role(role: str) -> bool:
    """Admins may read every session (never play another learner's)."""
    return role == "admin"


class AccessCheck:
    """Whom a session request acts for, and whether that is established yet.

    An :class:`Actor` is. An :class:`~core.store.base.AccessClaim` is not until a statement of the
    request checks it: the store's append or stream read, which refuse with ``AccessRevoked``
    (the service then calls :meth:`checked`), so the check costs no round trip of its own. Where
    a request would return a result or an error, or start work, without such a statement having
    run, :meth:`ensure` checks the claim with a read of its own first.
    """

    __slots__ = ("_checked", "claim", "learner_id", "role")

    def __init__(self, acting: Actor | AccessClaim) -> None:
        self.learner_id = acting.learner_id
        self.role = acting.role
        # What the request's statements are to check; None: an actor, established already.
        self.claim = acting if isinstance(acting, AccessClaim) else None
        self._checked = self.claim is None

    def checked(self) -> None:
        """A statement of this request checked the claim and found it current."""
        self._checked = True

    async def ensure(self, store: Store) -> None:
        """Raise ``Unauthorized`` unless the claim is current (one read, unless a statement of
        this request checked it already; never cached beyond the request)."""
        if self._checked:
            return
        assert self.claim is not None
        if not self.claim.holds(await store.get_token_state(self.learner_id)):
            raise Unauthorized(SESSION_ENDED)
        self._checked = True


EVENT_ACTOR_KEY = "actor"
SYSTEM_GRADER = "system:grader"
SYSTEM_HINTS = "system:hints"
SYSTEM_NARRATOR = "system:narrator"
