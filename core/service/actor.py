"""Who is acting: a learner, or an admin who may see every session."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    learner_id: str
    role: str = "learner"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
