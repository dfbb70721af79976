"""The all-correct and all-wrong paths as checks: what they play and what they report."""

from __future__ import annotations

from core.authoring.evaluators import OfflineEvaluator
from core.authoring.findings import Severity
from core.authoring.paths import check_correct_path, check_wrong_path, passing_answers
from core.content import to_spec
from tests.core.authoring.base import make_challenge, step


def run(check, edit=None):
    challenge = make_challenge(edit)
    return check(challenge, to_spec(challenge), OfflineEvaluator())


def where(result):
    return [(f.severity, f.step_id, f.field) for f in result.findings]


def test_the_correct_path_answers_chat_steps_with_the_first_passing_example():
    assert passing_answers(make_challenge()) == {
        "tuple": "Tuples are immutable, so use them as a dictionary key."
    }


def test_a_good_challenge_passes_the_correct_path_with_full_marks_and_fails_the_wrong_one():
    correct = run(check_correct_path)
    assert correct.passed and correct.findings == ()
    assert [(s.step_id, s.score) for s in correct.steps] == [
        ("welcome", 0.0), ("first", 10.0), ("changes", 10.0), ("append-returns", 10.0), ("tuple", 20.0)
    ]  # fmt: skip
    assert correct.steps[1].answer == "choice 1: 1"
    wrong = run(check_wrong_path)
    assert not wrong.passed and wrong.findings == ()
    assert wrong.score == 0.0
    assert "session <strong style='color:#cf222e'>failed</strong>" in wrong._repr_html_()


def test_a_passing_example_that_fails_breaks_the_correct_path_naming_the_step():
    def edit(data):
        chat = step(data, "tuple")
        chat["examples"][0]["answer"] = "Because I like them."

    correct = run(check_correct_path, edit)
    assert (Severity.ERROR, "tuple", "examples") in where(correct)
    message = next(f.message for f in correct.findings if f.step_id == "tuple")
    assert "first 'pass' example" in message and "0/20" in message


def test_a_correct_path_below_the_passing_score_is_reported_on_the_challenge():
    correct = run(check_correct_path, lambda data: data.update(passing_score=100))
    assert correct.passed  # full marks everywhere
    failing = run(
        check_correct_path,
        lambda data: step(data, "tuple")["examples"][0].update(answer="Because I like them."),
    )
    assert (Severity.ERROR, None, "passing_score") in where(failing)


def test_every_choice_marked_correct_lets_a_wrong_answer_pass_the_step():
    def edit(data):
        data["passing_score"] = 5
        for choice in step(data, "changes")["choices"]:
            choice["correct"] = True
        step(data, "changes")["pass_threshold"] = 30

    wrong = run(check_wrong_path, edit)
    assert wrong.passed
    assert (Severity.ERROR, "changes", "choices") in where(wrong)
    challenge_level = next(f for f in wrong.findings if f.step_id is None)
    assert "changes 3.33/10" in challenge_level.message


def test_careless_concepts_alone_no_longer_let_an_off_topic_answer_pass():
    def edit(data):
        step(data, "tuple")["rubric"][0]["concepts"].append("faster")
        step(data, "tuple")["rubric"][1]["concepts"].append("computer")

    wrong = run(check_wrong_path, edit)
    # The calibrated decision and the nearest (fail) example overrule the concept route.
    assert not wrong.passed and wrong.findings == ()


def test_an_off_topic_answer_that_passes_a_chat_step_is_an_error():
    def edit(data):
        chat = step(data, "tuple")
        chat["rubric"][0]["concepts"].append("faster")
        chat["rubric"][1]["concepts"].append("computer")
        chat["examples"].append({"answer": "It makes the computer faster.", "expect": "pass"})

    wrong = run(check_wrong_path, edit)
    assert (Severity.ERROR, "tuple", "rubric") in where(wrong)


def test_copying_the_prompt_back_should_not_pass_a_chat_step():
    def edit(data):
        step(data, "tuple")["rubric"][0]["concepts"].append("tuple")
        step(data, "tuple")["rubric"][1]["concepts"].append("list")
        step(data, "tuple")["examples"].append({"answer": "A tuple over a list.", "expect": "pass"})

    wrong = run(check_wrong_path, edit)
    (finding,) = wrong.findings
    assert (finding.severity, finding.step_id, finding.field) == (
        Severity.WARNING,
        "tuple",
        "rubric",
    )
    assert finding.message.startswith("copying the prompt back as the answer passes")
