"""Committed notebooks carry no outputs, execution counts or run metadata (nbstripout's job)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_both_authoring_notebooks_are_there():
    assert {path.name for path in NOTEBOOKS} >= {"author.ipynb", "new_challenge.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs_or_execution_counts(path: Path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        assert set(cell.metadata) <= {"tags"}, (cell.id, dict(cell.metadata))
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert set(book.metadata) <= {"kernelspec", "language_info"}
    assert book.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbstripout_would_change_nothing(path: Path):
    verify = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", str(path)], capture_output=True, text=True
    )
    assert verify.returncode == 0, f"run: .venv/bin/nbstripout {path}\n{verify.stdout}"


def test_git_strips_notebooks_through_the_nbstripout_filter():
    attributes = (ROOT / ".gitattributes").read_text(encoding="utf-8").splitlines()
    assert "*.ipynb filter=nbstripout" in attributes
