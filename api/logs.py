"""Structured JSON logs with the request id, scrubbed of passwords, tokens, keys, token digests,
emails and answers at every level."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("curiouscore_request_id", default=None)

REDACTED = "[redacted]"
# Extra fields whose values never reach a log line, whoever passes them.
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "password_hash",
        "token",
        "access_token",
        "refresh_token",
        "secret",
        "secret_key",
        "authorization",
        "api_key",
        "cookie",
        "answer",
        "code",
        "reference_answer",
        "rubric",
    }
)
_SECRET_PATTERNS = (
    re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"),  # JWTs
    re.compile(r"(?i)bearer\s+[\w.~+/=-]+"),
    re.compile(r"\$argon2(id|i|d)\$[^\s\"']+"),  # password hashes
    re.compile(r"\bsk-[\w-]{8,}"),  # provider API keys
    # Emails (personal data) and SHA-256 hex digests (refresh tokens and link codes are stored
    # as these: a digest in a log line is as good as the row it finds).
    re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(\.[\w-]+)+"),
    re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"),
)
# Libraries that log every SQL statement with its parameters (emails, token digests, answers) at
# DEBUG or INFO: never below WARNING, whatever LOG_LEVEL says.
QUIET_LOGGERS = ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg")
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def scrub(text: str) -> str:
    """Return ``text`` with anything shaped like a token, hash or API key replaced."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and safe extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key in payload or key.startswith("_"):
                continue
            payload[key] = REDACTED if key.lower() in SENSITIVE_KEYS else _safe(value)
        if record.exc_info:
            payload["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, ensure_ascii=False)


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it); marks the handler
    this module installed, so configuring twice changes nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON at ``level``; uvicorn's own loggers included.

    Idempotent. Uvicorn's access log is silenced: the API writes its own request line with the
    route, status, duration and request id.
    """
    root = logging.getLogger()
    if not any(isinstance(h, _JsonHandler) for h in root.handlers):
        handler = _JsonHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
