"""One domain error tree, translated once per adapter (HTTP status, friendly chat message).

Every error carries a learner-safe message; adapters may show it as is. ``code`` is a stable
machine-readable name.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: something the learner or caller asked for cannot be done."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"


class SessionNotFound(NotFound):
    code = "session_not_found"


class ChallengeNotFound(NotFound):
    code = "challenge_not_found"


class LearnerNotFound(NotFound):
    code = "learner_not_found"


class ReviewNotFound(NotFound):
    """No queued grade has this review id (issue 14)."""

    code = "review_not_found"


class Conflict(DomainError):
    """The request no longer fits the session's state (HTTP 409)."""

    code = "conflict"


class AlreadyReviewed(Conflict):
    """The graded attempt has a review already; a new one must say it replaces it (issue 14)."""

    code = "already_reviewed"


class StepNotCurrent(Conflict):
    code = "step_not_current"


class SessionNotActive(Conflict):
    code = "session_not_active"


class AnswerConflict(Conflict):
    """Another answer to the same step was recorded first."""

    code = "answer_conflict"


class NoHintsLeft(Conflict):
    code = "no_hints_left"


class WrongAction(Conflict):
    """E.g. continuing past a step that is not a gate, or answering a gate."""

    code = "wrong_action"


class InvalidAnswer(DomainError):
    """The answer has the wrong shape for the step (HTTP 422)."""

    code = "invalid_answer"


class AnswerTooLong(InvalidAnswer):
    code = "answer_too_long"


class InvalidContent(DomainError):
    """A challenge file is invalid; the message names the file, the step and the field."""

    code = "invalid_content"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthorized(DomainError):
    """The caller is not signed in, or their credentials or token are not valid (HTTP 401)."""

    code = "unauthorized"


class InvalidCredentials(Unauthorized):
    """Wrong email or password; deliberately the same message whichever was wrong."""

    code = "invalid_credentials"


class InvalidInput(DomainError):
    """A value has the wrong shape or breaks a rule (HTTP 422): a weak password, a bad email, …"""

    code = "invalid_input"


class AlreadyExists(Conflict):
    code = "already_exists"


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` says how many seconds to wait (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class IdempotencyKeyReused(InvalidInput):
    """An ``Idempotency-Key`` came back with a different request than the one it was first used
    for (HTTP 422); the first request's outcome stands and nothing new is recorded."""

    code = "idempotency_key_reused"
