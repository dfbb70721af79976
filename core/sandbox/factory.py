"""Choosing the code runner from the settings (``CODE_RUNNER``, ``CODE_SANDBOX``, ``JUDGE0_URL``)."""

from __future__ import annotations

import logging

from core.config import Settings
from core.sandbox.bwrap import BwrapRunner
from core.sandbox.judge0 import Judge0Runner
from core.sandbox.local import WARNING, UnsafeLocalRunner
from core.sandbox.models import CodeRunner, SandboxUnavailable

log = logging.getLogger(__name__)


def build_code_runner(settings: Settings) -> CodeRunner:
    """The runner the settings name; unsafe-local logs a warning, judge0 needs JUDGE0_URL."""
    if settings.code_runner == "judge0":
        if not settings.judge0_url:
            raise SandboxUnavailable("CODE_RUNNER=judge0 needs JUDGE0_URL (the Judge0 CE server)")
        token = settings.judge0_token.get_secret_value() if settings.judge0_token else None
        return Judge0Runner(settings.judge0_url, token=token)
    if settings.code_sandbox == "unsafe-local":
        log.warning(WARNING)
        return UnsafeLocalRunner(python=settings.code_python)
    return BwrapRunner(python=settings.code_python, max_concurrency=settings.code_max_concurrency)
