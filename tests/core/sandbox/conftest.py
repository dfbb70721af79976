from __future__ import annotations

import os

import pytest

from core.sandbox.bwrap import BwrapRunner
from core.sandbox.models import SandboxUnavailable


@pytest.fixture
async def bwrap_runner() -> BwrapRunner:
    """A bubblewrap runner; fails (naming the fix) where bwrap cannot run, unless
    CURIOUSCORE_SKIP_SANDBOX=1 says this machine cannot have it."""
    runner = BwrapRunner(max_concurrency=4)
    try:
        await runner.check()
    except SandboxUnavailable as error:
        if os.environ.get("CURIOUSCORE_SKIP_SANDBOX") == "1":
            pytest.skip(str(error))
        pytest.fail(str(error))
    return runner
