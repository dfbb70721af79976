"""One notebook run's state: every check records findings, and one error lists every failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.authoring.builder import write_challenge
from core.authoring.findings import AuthoringFailed, Severity
from core.authoring.validation import SUMMARY_MIMETYPE, AuthoringCheck
from tests.core.authoring.base import make_challenge, step

FIXTURES = Path(__file__).resolve().parents[2] / "notebooks" / "fixtures"


def run_all(check: AuthoringCheck) -> AuthoringCheck:
    check.preview()
    check.play_correct_path()
    check.play_wrong_path()
    check.grade_examples()
    check.plot_example_scores()
    check.lint()
    return check


def test_a_good_challenge_passes_and_raises_nothing():
    check = run_all(AuthoringCheck.of(make_challenge()))
    summary = check.summary()
    assert summary.passed and summary.findings == ()
    check.raise_if_failed()


def test_every_failure_of_every_check_is_in_one_error_with_its_step():
    def edit(data):
        step(data, "tuple")["examples"][1]["answer"] = "Immutable: a dictionary key."
        data["passing_score"] = 30

    check = run_all(AuthoringCheck.of(make_challenge(edit)))
    with pytest.raises(AuthoringFailed) as caught:
        check.raise_if_failed()
    message = str(caught.value)
    assert message.startswith("challenge 'lists' failed 2 checks:")
    assert "  - step 'tuple' (examples[1]): labelled fail but graded pass" in message
    assert "  - challenge (passing_score): passing_score 30% is outside" in message


def test_lenient_mode_fails_on_errors_only():
    challenge = make_challenge(lambda data: data.update(passing_score=30))
    assert not run_all(AuthoringCheck.of(challenge)).summary().passed
    lenient = run_all(AuthoringCheck.of(challenge, strict=False)).summary()
    assert lenient.passed and [f.severity for f in lenient.findings] == [Severity.WARNING]


def test_a_check_the_notebook_skipped_is_a_failure():
    check = AuthoringCheck.of(make_challenge())
    check.lint()
    (finding,) = check.summary().failures
    assert finding.message == (
        "the notebook did not run these checks: all-correct path, all-wrong path, examples"
    )


def test_rerunning_a_check_replaces_its_findings():
    check = run_all(AuthoringCheck.of(make_challenge()))
    check.lint()
    check.lint()
    assert check.summary().findings == ()


def test_a_file_the_loader_rejects_fails_at_once_naming_step_and_field():
    with pytest.raises(AuthoringFailed) as caught:
        AuthoringCheck.open(FIXTURES / "rubric-does-not-sum.yaml")
    (failure,) = caught.value.failures
    assert (failure.check, failure.step_id, failure.field) == ("load", "explain", "rubric")
    assert failure.message == "rubric points sum to 15 but the step is worth 20 points"


def test_an_unreadable_file_is_one_failure(tmp_path: Path):
    with pytest.raises(AuthoringFailed, match="cannot read the file"):
        AuthoringCheck.open(tmp_path / "missing.yaml")


def test_an_unavailable_provider_is_a_warning_and_the_examples_are_graded_offline(tmp_path: Path):
    path = write_challenge(make_challenge(), tmp_path)
    check = run_all(AuthoringCheck.open(path, provider="llama"))
    assert check.evaluator_name == "offline"
    (finding,) = check.summary().findings
    assert (finding.check, finding.severity, finding.field) == (
        "evaluator",
        Severity.WARNING,
        "provider",
    )
    assert "unknown provider 'llama'" in finding.message


def test_the_summary_carries_a_machine_readable_copy_for_the_cli():
    check = run_all(AuthoringCheck.of(make_challenge(lambda d: d.update(passing_score=30))))
    bundle = check.summary()._repr_mimebundle_()
    data = bundle[SUMMARY_MIMETYPE]
    assert data["challenge"] == "lists" and data["passed"] is False
    assert data["failures"] == [
        {
            "check": "lint",
            "severity": "warning",
            "step": None,
            "field": "passing_score",
            "line": None,
            "message": data["failures"][0]["message"],
        }
    ]
    assert "FAILED 1 check" in bundle["text/markdown"]


def test_the_preview_shows_the_learners_view_then_the_authors():
    markdown = AuthoringCheck.of(make_challenge()).preview().markdown()
    assert "### Step 2 of 5: Indexing" in markdown
    assert "○ 1. 1" in markdown and "☐ 2. sorted(xs)" in markdown
    assert "| 1 | 1 | ✓ |  |" in markdown
    assert (
        "| `immutable` | 10 | Says a tuple cannot change. | immutable, cannot be changed |"
        in markdown
    )
    assert "Pass mark 60% · 3 attempts" in markdown


def test_the_plot_is_a_png():
    check = AuthoringCheck.of(make_challenge())
    png = check.plot_example_scores()._repr_png_()
    assert png.startswith(b"\x89PNG")
