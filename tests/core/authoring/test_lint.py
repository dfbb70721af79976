"""Authoring rules: each rule fires on the content it targets, names the step and field, and the
shipped challenges are clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.authoring.findings import Finding, Severity
from core.authoring.lint import lint_challenge
from core.content import load_challenge_file
from core.content.models import ChallengeFile
from tests.core.authoring.base import make_challenge, step

SHIPPED = sorted((Path(__file__).resolve().parents[3] / "challenges").glob("*.yaml"))


def findings(
    challenge: ChallengeFile, severity: Severity | None = None
) -> list[tuple[str | None, str | None, str]]:
    return [
        (f.step_id, f.field, f.message)
        for f in lint_challenge(challenge)
        if severity is None or f.severity is severity
    ]


def only(challenge: ChallengeFile) -> tuple[Severity, str | None, str | None, str]:
    (finding,) = lint_challenge(challenge)
    return finding.severity, finding.step_id, finding.field, finding.message


def test_the_base_challenge_is_clean():
    assert findings(make_challenge()) == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_challenges_have_no_findings(path: Path):
    assert findings(load_challenge_file(path)) == []


def test_rubric_points_that_do_not_sum_are_an_error_naming_the_step():
    good = make_challenge()
    chat = good.steps[4]
    # The loader already refuses this; lint still checks models built around validation.
    broken_chat = chat.model_construct(**{**dict(chat), "points": 25})
    broken = good.model_construct(**{**dict(good), "steps": [*good.steps[:4], broken_chat]})
    assert (
        Severity.ERROR,
        "tuple",
        "rubric",
        "rubric points sum to 20 but the step is worth 25",
    ) in [(f.severity, f.step_id, f.field, f.message) for f in lint_challenge(broken)]


def test_a_one_item_rubric_is_a_warning():
    def edit(data):
        chat = step(data, "tuple")
        chat["rubric"] = [{**chat["rubric"][0], "points": 20}]

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "tuple", "rubric")
    assert "1 rubric item" in message and "2–5" in message


def test_six_rubric_items_is_a_warning():
    def edit(data):
        chat = step(data, "tuple")
        chat["points"] = 30
        chat["rubric"] = [
            {"id": f"i{n}", "description": "d", "points": 5, "concepts": [f"concept{n}"]}
            for n in range(6)
        ]
        chat["examples"][0]["answer"] = "concept0 concept1 concept2 concept3"

    found = findings(make_challenge(edit), Severity.WARNING)
    assert (
        "tuple",
        "rubric",
        "6 rubric items: use 2–5 so grading is neither all-or-nothing nor too fine to be consistent",
    ) in found


def test_a_pass_mark_of_zero_is_an_error():
    def edit(data):
        step(data, "changes")["pass_threshold"] = 0

    assert only(make_challenge(edit))[:3] == (Severity.ERROR, "changes", "pass_threshold")


def test_a_chat_pass_mark_outside_the_usual_range_is_a_warning():
    def edit(data):
        step(data, "tuple")["pass_threshold"] = 100

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "tuple", "pass_threshold")
    assert "100%" in message


def test_a_rubric_item_that_passes_the_step_alone_is_a_warning():
    def edit(data):
        chat = step(data, "tuple")
        chat["points"] = 30
        chat["rubric"][0]["points"] = 20

    assert only(make_challenge(edit))[:3] == (Severity.WARNING, "tuple", "rubric[0]")


@pytest.mark.parametrize(
    ("score", "severity"), [(0, Severity.ERROR), (30, Severity.WARNING), (100, Severity.WARNING)]
)
def test_passing_score_out_of_range(score: int, severity: Severity):
    challenge = make_challenge(lambda data: data.update(passing_score=score))
    assert only(challenge)[:3] == (severity, None, "passing_score")


@pytest.mark.parametrize("minutes", [2, 120])
def test_time_estimate_that_does_not_fit_the_steps_is_a_warning(minutes: int):
    challenge = make_challenge(lambda data: data.update(estimated_minutes=minutes))
    severity, step_id, field, message = only(challenge)
    assert (severity, step_id, field) == (Severity.WARNING, None, "estimated_minutes")
    assert "5 steps" in message


@pytest.mark.parametrize("side", ["pass", "fail"])
def test_a_chat_step_needs_examples_on_both_sides(side: str):
    def edit(data):
        chat = step(data, "tuple")
        chat["examples"] = [e for e in chat["examples"] if e["expect"] != side]

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.ERROR, "tuple", "examples")
    assert f"no example labelled {side!r}" in message


def test_all_of_the_above_gives_the_answer_away():
    def edit(data):
        step(data, "first")["choices"][2]["text"] = "All of the above"

    assert only(make_challenge(edit))[:3] == (Severity.WARNING, "first", "choices[2].text")


def test_a_choice_that_repeats_the_prompt_is_an_error():
    def edit(data):
        step(data, "first")["choices"][1]["text"] = "What is [1, 2][0]?"

    assert only(make_challenge(edit))[:3] == (Severity.ERROR, "first", "choices[1].text")


def test_duplicate_choices_are_an_error():
    def edit(data):
        step(data, "first")["choices"][2]["text"] = "2"

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field, message) == (
        Severity.ERROR,
        "first",
        "choices[2].text",
        "this choice repeats choices[1]",
    )


def test_a_correct_choice_much_longer_than_the_others_is_a_warning():
    def edit(data):
        step(data, "first")["choices"][0]["text"] = (
            "1, because Python counts positions from zero, so index 0 is always the first item"
        )

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "first", "choices")
    assert "much longer" in message


def test_a_multi_step_where_every_choice_is_correct_is_a_warning():
    def edit(data):
        for choice in step(data, "changes")["choices"]:
            choice["correct"] = True

    assert only(make_challenge(edit))[:3] == (Severity.WARNING, "changes", "choices")


def test_missing_explanation_reference_and_concepts_are_warnings():
    def edit(data):
        chat = step(data, "tuple")
        del chat["explanation"], chat["reference_answer"]
        chat["rubric"][1]["concepts"] = []

    assert {(s, f) for s, f, _ in findings(make_challenge(edit), Severity.WARNING)} == {
        ("tuple", "explanation"),
        ("tuple", "reference_answer"),
        ("tuple", "rubric[1].concepts"),
    }


def test_a_concept_in_two_rubric_items_is_a_warning():
    def edit(data):
        step(data, "tuple")["rubric"][1]["concepts"].append("Immutable")

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "tuple", "rubric[1].concepts")
    assert "'immutable'" in message and "'use'" in message


def test_todo_text_is_a_warning():
    def edit(data):
        step(data, "first")["prompt"] = "TODO: ask something"
        data["summary"] = "TODO"

    warnings = findings(make_challenge(edit), Severity.WARNING)
    fix = "replace it before publishing (seed refuses TODO text)"
    assert warnings == [
        (None, "summary", f"still contains TODO text; {fix}"),
        ("first", "prompt", f"still contains TODO text in prompt; {fix}"),
    ]
    assert findings(make_challenge(edit), Severity.ERROR) == []


def test_warnings_fail_only_in_strict_mode_and_notes_never():
    (warning,) = lint_challenge(make_challenge(lambda data: data.update(passing_score=30)))
    assert warning.fails(strict=True) and not warning.fails(strict=False)
    note = Finding("lint", Severity.NOTE, "a reminder")
    assert not note.fails(strict=True)


# --- duplicates compare exact text; near-duplicates only warn --------------------------------


@pytest.mark.parametrize(
    "texts",
    [("a == b", "a != b"), ("{}", "[]"), ("'APPLE'", "'apple'"), ("()", "[]")],
    ids=repr,
)
def test_different_code_is_not_a_duplicate_choice(texts):
    def edit(data):
        step(data, "first")["choices"][1]["text"] = texts[0]
        step(data, "first")["choices"][2]["text"] = texts[1]

    assert findings(make_challenge(edit), Severity.ERROR) == []


def test_choices_differing_only_in_whitespace_are_a_duplicate_error():
    def edit(data):
        step(data, "first")["choices"][1]["text"] = "x  ==  y"
        step(data, "first")["choices"][2]["text"] = "x == y"

    assert findings(make_challenge(edit), Severity.ERROR) == [
        ("first", "choices[2].text", "this choice repeats choices[1]")
    ]


def test_choices_differing_only_in_case_or_punctuation_are_a_warning():
    def edit(data):
        step(data, "first")["choices"][1]["text"] = "An error."
        step(data, "first")["choices"][2]["text"] = "an error"

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "first", "choices[2].text")
    assert "only in case or punctuation" in message


# --- a wrong `correct` flag, where the text gives it away ------------------------------------


def test_an_unflagged_choice_whose_feedback_says_it_is_right_is_a_warning():
    def edit(data):
        step(data, "first")["choices"][1]["feedback"] = "Correct! Lists start at index 0."

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "first", "choices[1].correct")
    assert "not flagged correct" in message


def test_a_flagged_choice_whose_feedback_says_it_is_wrong_is_a_warning():
    def edit(data):
        step(data, "first")["choices"][0]["feedback"] = "Not quite: that is the second item."

    severity, step_id, field, _ = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "first", "choices[0].correct")


def test_an_explanation_quoting_only_an_unflagged_choice_is_a_warning():
    def edit(data):
        step(data, "first")["choices"][2]["text"] = "An IndexError is raised"
        step(data, "first")["explanation"] = "An IndexError is raised because..."

    severity, step_id, field, message = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "first", "explanation")
    assert "choices[2]" in message


def test_a_true_false_explanation_that_contradicts_the_answer_is_a_warning():
    def edit(data):
        step(data, "append-returns")["explanation"] = "True: it returns the list."

    severity, step_id, field, _ = only(make_challenge(edit))
    assert (severity, step_id, field) == (Severity.WARNING, "append-returns", "answer")
