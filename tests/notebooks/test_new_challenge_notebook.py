"""``notebooks/new_challenge.ipynb`` through papermill: it builds, checks and writes a challenge."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import papermill
import pytest

from core.authoring.notebook_run import execute_notebook
from core.authoring.parameters import ParameterError
from core.authoring.validation import AuthoringCheck
from core.content import load_challenge_file

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "new_challenge.ipynb"


def test_the_notebook_writes_a_challenge_that_validates(tmp_path: Path):
    output = tmp_path / "executed.ipynb"
    parameters = {"challenge_id": "lists-from-notebook", "output_dir": str(tmp_path / "out")}
    execute_notebook(NOTEBOOK, output, parameters)
    written = tmp_path / "out" / "lists-from-notebook.yaml"
    challenge = load_challenge_file(written)
    assert {s.type for s in challenge.steps} == {"gate", "mcq", "multi", "true_false", "chat"}
    check = AuthoringCheck.open(written)
    check.play_correct_path()
    check.play_wrong_path()
    check.grade_examples()
    check.lint()
    assert check.summary().findings == ()
    text = "".join(
        o.get("text", "")
        for c in nbformat.read(output, as_version=4).cells
        for o in c.get("outputs", [])
    )
    assert f"Wrote {written}" in text


def test_the_notebook_will_not_replace_an_existing_file(tmp_path: Path):
    (tmp_path / "python-lists.yaml").write_text("keep me", encoding="utf-8")
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        execute_notebook(NOTEBOOK, tmp_path / "executed.ipynb", {"output_dir": str(tmp_path)})
    assert caught.value.ename == "FileExistsError"
    assert (tmp_path / "python-lists.yaml").read_text(encoding="utf-8") == "keep me"


def test_its_parameters_are_checked_before_it_runs(tmp_path: Path):
    with pytest.raises(ParameterError, match="unknown parameter 'challenge'"):
        execute_notebook(NOTEBOOK, tmp_path / "x.ipynb", {"challenge": "x"})


def test_the_builder_reads_the_parameters_and_resolves_paths_in_the_repository(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    relative = os.path.relpath(tmp_path / "written", root)  # relative to the repository, not cwd
    parameters = {
        "challenge_id": "git-from-notebook",
        "title": "Git: first steps",
        "difficulty": "intermediate",
        "tags": "git, basics",
        "output_dir": relative,
    }
    execute_notebook(NOTEBOOK, tmp_path / "executed.ipynb", parameters, cwd=tmp_path)
    challenge = load_challenge_file(tmp_path / "written" / "git-from-notebook.yaml")
    assert (challenge.title, challenge.difficulty) == ("Git: first steps", "intermediate")
    assert challenge.tags == ["git", "basics"]
