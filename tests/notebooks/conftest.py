"""Notebook tests run real kernels: make sure this environment's Jupyter kernel is registered."""

from __future__ import annotations

import pytest

from core.authoring.kernels import DEFAULT_KERNEL, ensure_kernel


@pytest.fixture(scope="session", autouse=True)
def jupyter_kernel() -> str:
    """Register this environment's ``python3`` kernel when missing (a clean machine has none)."""
    ensure_kernel(DEFAULT_KERNEL, install=True)
    return DEFAULT_KERNEL
