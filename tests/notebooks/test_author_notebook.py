"""``notebooks/author.ipynb`` through papermill: a good challenge passes; each broken fixture fails
with one error naming its step; bad parameters and unusable kernels are refused before anything runs.

The fixtures and one shipped challenge run once, together, through the parallel runner (warm
kernels), and the tests below read the outcomes and the kept reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from core.authoring import runner
from core.authoring.kernels import KernelUnavailable
from core.authoring.parameters import ParameterError
from core.authoring.runner import ChallengeRun, RunOptions, validate_challenges
from core.content import load_challenge_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD = ROOT / "challenges" / "python-functions.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ChallengeRun]:
    report_dir = tmp_path_factory.mktemp("reports")
    paths = [GOOD, *sorted(FIXTURES.glob("*.yaml"))]
    outcomes = validate_challenges(paths, RunOptions(report_dir=report_dir))
    return {run.path.stem: run for run in outcomes}


def error_output(notebook: Path) -> dict:
    book = nbformat.read(notebook, as_version=4)
    errors = [o for c in book.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 1, "one error, raised by one cell"
    return errors[0]


def test_a_good_challenge_passes_and_keeps_its_reports(runs):
    run = runs["python-functions"]
    assert run.passed, run.problems
    assert run.problems == () and run.challenge_id == "python-functions"
    assert run.notebook is not None and run.html is not None
    book = nbformat.read(run.notebook, as_version=4)
    outputs = [o for c in book.cells for o in c.get("outputs", [])]
    assert not any(o["output_type"] == "error" for o in outputs)
    kinds = {mime for o in outputs for mime in o.get("data", {})}
    assert {"text/markdown", "text/html", "image/png"} <= kinds
    html = run.html.read_text(encoding="utf-8")
    total = len(load_challenge_file(GOOD).steps)
    assert (
        f"Step 2 of {total}: Parameters and arguments" in html and "data:image/png;base64" in html
    )
    assert "Code steps, run in the sandbox" in html and "write-a-function" in html


def test_a_mislabelled_example_fails_naming_the_step_and_the_example(runs):
    run = runs["wrong-example-label"]
    assert not run.passed
    (problem,) = run.problems
    assert problem.startswith("step 'explain' (examples[1]): labelled fail but graded pass: 20/20")
    error = error_output(run.notebook)
    assert error["ename"] == "AuthoringFailed"
    assert "step 'explain' (examples[1])" in error["evalue"]


def test_a_wrong_correct_flag_that_lets_the_all_wrong_path_pass_fails_naming_the_step(runs):
    run = runs["all-wrong-passes"]
    assert not run.passed
    assert any(
        p.startswith("step 'pick-objects' (choices): a wrong answer passes this step")
        for p in run.problems
    )
    assert any(
        p.startswith("challenge (passing_score): the all-wrong path passes") for p in run.problems
    )
    assert "[all-wrong path]" in error_output(run.notebook)["evalue"]


def test_rubric_points_that_do_not_sum_fail_at_load_naming_the_step(runs):
    run = runs["rubric-does-not-sum"]
    assert run.problems == (
        "step 'explain' (rubric, line 14): rubric points sum to 15 but the step is worth 20 points [load]",
    )
    assert error_output(run.notebook)["ename"] == "AuthoringFailed"
    assert run.html is not None  # the report exists even when loading failed


def test_two_correct_choices_in_an_mcq_fail_naming_the_step(runs):
    assert runs["two-correct-choices"].problems == (
        "step 'capital' (choices, line 13): an mcq step needs exactly one correct choice, found 2 [load]",
    )


def test_choices_that_give_the_answer_away_fail_in_strict_mode(runs):
    problems = runs["giveaway-choices"].problems
    assert [p.split(":")[0] for p in problems] == [
        "step 'get-safe' (choices)",
        "step 'status' (choices[2].text)",
    ]


def test_choices_that_give_the_answer_away_pass_in_lenient_mode(tmp_path: Path):
    (run,) = validate_challenges(
        [FIXTURES / "giveaway-choices.yaml"],
        RunOptions(report_dir=tmp_path, strict=False, html=False),
    )
    assert run.passed and run.warnings == 2 and run.html is None


@pytest.fixture
def no_kernel_may_start(monkeypatch):
    async def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner, "start_kernel", refuse)


def test_an_unknown_parameter_is_refused_before_a_kernel_starts(tmp_path, no_kernel_may_start):
    options = RunOptions(report_dir=tmp_path, extra_parameters={"colour": "red"})
    with pytest.raises(ParameterError) as caught:
        validate_challenges([GOOD], options)
    assert caught.value.problems == [
        "unknown parameter 'colour'; author.ipynb takes challenge_path, provider, model, strict, "
        "database_url"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_parameter_is_refused_before_a_kernel_starts(tmp_path, no_kernel_may_start):
    options = RunOptions(report_dir=tmp_path, extra_parameters={"strict": "yes"})
    with pytest.raises(ParameterError, match="parameter 'strict' must be bool, not str 'yes'"):
        validate_challenges([GOOD], options)


def test_an_unknown_provider_and_a_missing_file_are_refused_up_front(tmp_path, no_kernel_may_start):
    options = RunOptions(report_dir=tmp_path, provider="llama")
    with pytest.raises(ParameterError) as caught:
        validate_challenges([tmp_path / "nope.yaml"], options)
    assert caught.value.problems == [
        f"challenge file not found: {tmp_path / 'nope.yaml'}",
        "unknown provider 'llama' (choose one of offline, anthropic, openai, gemini)",
    ]


def test_a_missing_kernel_names_it_and_how_to_install_it(tmp_path, no_kernel_may_start):
    with pytest.raises(KernelUnavailable) as caught:
        validate_challenges([GOOD], RunOptions(report_dir=tmp_path, kernel="no-such-kernel"))
    message = caught.value.message
    assert "the Jupyter kernel 'no-such-kernel' is not installed" in message
    assert "-m ipykernel install --sys-prefix --name no-such-kernel" in message


def kernelspec(root: Path, name: str, argv: list[str]) -> None:
    folder = root / "kernels" / name
    folder.mkdir(parents=True)
    spec = {"argv": argv, "display_name": name, "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


def test_a_kernel_that_dies_on_start_gets_a_clear_message(tmp_path, monkeypatch):
    kernelspec(
        tmp_path / "jupyter", "broken", ["python", "-c", "raise SystemExit(3)", "{connection_file}"]
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    with pytest.raises(KernelUnavailable) as caught:
        validate_challenges([GOOD], RunOptions(report_dir=tmp_path / "r", kernel="broken"))
    assert "the Jupyter kernel 'broken' did not start" in caught.value.message
    assert "ipykernel install" in caught.value.message


def test_a_kernel_without_curiouscore_is_refused(tmp_path, monkeypatch):
    kernelspec(tmp_path / "jupyter", "elsewhere", ["/bin/false", "-f", "{connection_file}"])
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    with pytest.raises(KernelUnavailable, match="runs /bin/false, which cannot import CuriousCore"):
        validate_challenges([GOOD], RunOptions(report_dir=tmp_path / "r", kernel="elsewhere"))


def test_a_kernel_that_dies_mid_run_is_reported_for_that_challenge(tmp_path: Path):
    book = nbformat.read(ROOT / "notebooks" / "author.ipynb", as_version=4)
    book.cells.insert(2, nbformat.v4.new_code_cell("import os\nos._exit(1)"))
    crashing = tmp_path / "crashing.ipynb"
    nbformat.write(book, crashing)
    options = RunOptions(report_dir=tmp_path / "r", notebook=crashing, html=False)
    (run,) = validate_challenges([GOOD], options)
    assert not run.passed
    assert run.problems[0].startswith(
        "the Jupyter kernel 'python3' died while running the notebook"
    )
