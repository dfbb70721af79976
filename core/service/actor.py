"""Who is acting: a learner, or an admin who may see every session; and who recorded an event.

Every stored event names its actor under the data key ``actor``: the learner's id for what a
learner did, or one of the ``system:`` names below for work the platform did on its own (grading,
hints, narration). Chat platforms cannot be called ``system``, so no learner id starts with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    learner_id: str
    role: str = "learner"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_review(self) -> bool:
        """Reviewers, authors and admins may review grades (issue 14)."""
        return self.role in REVIEW_ROLES


REVIEW_ROLES = frozenset({"reviewer", "author", "admin"})

EVENT_ACTOR_KEY = "actor"
SYSTEM_GRADER = "system:grader"
SYSTEM_HINTS = "system:hints"
SYSTEM_NARRATOR = "system:narrator"
