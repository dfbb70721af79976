"""What the authoring checks find: one finding names the check, the step, the field and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.errors import InvalidContent


class Severity(StrEnum):
    """``error`` always fails validation; ``warning`` fails it in strict mode; ``note`` never does."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    severity: Severity
    message: str
    step_id: str | None = None
    field: str | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        place = f"step {self.step_id!r}" if self.step_id else "challenge"
        detail = ", ".join(
            part for part in (self.field, f"line {self.line}" if self.line else None) if part
        )
        return f"{place} ({detail})" if detail else place

    def fails(self, *, strict: bool) -> bool:
        """Whether this finding fails validation under the given strictness."""
        if self.severity is Severity.ERROR:
            return True
        return strict and self.severity is Severity.WARNING

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "step": self.step_id,
            "field": self.field,
            "line": self.line,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.check}]"


class AuthoringFailed(InvalidContent):
    """A challenge failed validation: the message lists every failure with its step id."""

    def __init__(self, challenge: str, failures: Iterable[Finding]) -> None:
        self.challenge = challenge
        self.failures = tuple(failures)
        count = len(self.failures)
        lines = [f"challenge {challenge!r} failed {count} check{'s' if count != 1 else ''}:"]
        lines += [f"  - {failure}" for failure in self.failures]
        super().__init__("\n".join(lines))
