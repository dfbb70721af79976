"""The challenge builder: typed calls in, a validated challenge and readable YAML out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.authoring.builder import (
    ChallengeBuilder,
    challenge_yaml,
    criterion,
    right,
    write_challenge,
    wrong,
)
from core.authoring.scaffold import scaffold_challenge
from core.authoring.validation import AuthoringCheck
from core.content import ChallengeLoadError, load_challenge_file, parse_challenge

SHIPPED = sorted((Path(__file__).resolve().parents[3] / "challenges").glob("*.yaml"))


def small() -> ChallengeBuilder:
    return (
        ChallengeBuilder("small-one", "Small one", estimated_minutes=8, tags=["demo"])
        .gate("welcome", "Welcome", body="Hello.", narration="Welcome, traveller.")
        .mcq(
            "pick",
            "Pick",
            prompt="Which is a fruit?",
            choices=[wrong("Carrot", feedback="A root."), right("Apple"), wrong("Potato")],
            points=10,
            hints=["Think sweet."],
            explanation="Apples grow on trees.",
        )
        .true_false("sky", "Sky", prompt="The sky is green.", answer=False, points=10)
        .multi(
            "evens",
            "Evens",
            prompt="Which are even?",
            choices=[right("2"), wrong("3"), right("4")],
            points=10,
        )
        .chat(
            "why",
            "Why",
            prompt="Why eat fruit?",
            rubric=[
                criterion("vitamins", "Mentions vitamins.", 10, ["vitamin", "vitamins"]),
                criterion("fibre", "Mentions fibre.", 10, ["fibre", "fiber"]),
            ],
            reference_answer="Fruit gives vitamins and fibre.",
            passing=["Vitamins and fibre."],
            failing=["Because it is blue."],
        )
    )


def test_build_returns_the_validated_challenge_with_defaults_resolved():
    challenge = small().build()
    assert [s.type for s in challenge.steps] == ["gate", "mcq", "true_false", "multi", "chat"]
    mcq = challenge.steps[1]
    assert [c.correct for c in mcq.choices] == [False, True, False]  # type: ignore[union-attr]
    assert challenge.steps[0].narrate is True
    chat = challenge.steps[4]
    assert chat.points == 20  # the rubric's sum when not given
    assert [e.expect for e in chat.examples] == ["pass", "fail"]  # type: ignore[union-attr]


def test_build_errors_name_the_step_and_the_field():
    builder = ChallengeBuilder("x", "X").mcq(
        "pick", "Pick", prompt="?", choices=[wrong("a"), wrong("b")], points=10
    )
    with pytest.raises(ChallengeLoadError) as caught:
        builder.build()
    (problem,) = caught.value.problems
    assert problem.endswith(
        ": steps[0].choices (step 'pick'): an mcq step needs exactly one correct choice, found 0"
    )


def test_explicit_points_that_differ_from_the_rubric_are_refused():
    builder = ChallengeBuilder("x", "X").chat(
        "why", "Why", prompt="?", rubric=[criterion("a", "A.", 5)], reference_answer="r",
        passing=["p"], failing=["f"], points=10,
    )  # fmt: skip
    with pytest.raises(ChallengeLoadError, match=r"steps\[0\]\.rubric \(step 'why'\)"):
        builder.build()


def test_yaml_round_trips_and_reads_in_authoring_order():
    challenge = small().build()
    text = challenge_yaml(challenge)
    assert parse_challenge(text, source="t") == challenge
    data = yaml.safe_load(text)
    assert list(data)[:3] == ["id", "version", "title"]
    assert list(data["steps"][1])[:5] == ["id", "type", "title", "prompt", "choices"]
    assert "correct: false" not in text  # defaults stay out of the file


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_challenge_round_trips_through_the_yaml_writer(path: Path):
    challenge = load_challenge_file(path)
    assert parse_challenge(challenge_yaml(challenge), source="t") == challenge


def test_multi_line_text_is_written_as_a_block():
    challenge = (
        ChallengeBuilder("x", "X")
        .gate("g", "G", body="Line one.\n\nLine two.")
        .true_false("t", "T", prompt="p", answer=True, points=1)
        .build()
    )
    assert "body: |-\n    Line one.\n\n    Line two." in challenge_yaml(challenge)


def test_write_challenge_refuses_to_replace_a_file(tmp_path: Path):
    challenge = small().build()
    path = write_challenge(challenge, tmp_path)
    assert path == tmp_path / "small-one.yaml"
    assert load_challenge_file(path) == challenge
    with pytest.raises(FileExistsError, match="already exists"):
        write_challenge(challenge, tmp_path)
    assert write_challenge(challenge, tmp_path, overwrite=True) == path


def test_the_scaffold_plays_and_fails_strict_validation_only_for_its_todo_text(tmp_path: Path):
    path = write_challenge(scaffold_challenge("brand-new"), tmp_path)
    strict = AuthoringCheck.open(path)
    strict.play_correct_path(), strict.play_wrong_path(), strict.grade_examples(), strict.lint()
    assert {f.message.split(";")[0].split(" in ")[0] for f in strict.summary().failures} == {
        "still contains TODO text"
    }
    check = AuthoringCheck.open(path, strict=False)
    assert check.play_correct_path().passed
    assert not check.play_wrong_path().passed
    assert check.grade_examples().agreed == 2
    check.lint()
    summary = check.summary()
    assert summary.passed
    assert {f.severity.value for f in summary.findings} == {"warning"}
    assert {s.type for s in check.challenge.steps} == {"gate", "mcq", "multi", "true_false", "chat"}
