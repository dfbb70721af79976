"""Loading challenge files: every rejection names the file, the step and the field (PRODUCT §3)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.content import (
    ChallengeLoadError,
    challenge_schema,
    content_hash,
    load_challenge_file,
    parse_challenge,
    spec_from_definition,
    to_spec,
)
from core.engine.challenge import StepKind
from core.errors import DomainError, InvalidContent

CHALLENGE_ID = "demo-challenge"


def valid() -> dict[str, Any]:
    return {
        "id": CHALLENGE_ID,
        "version": 2,
        "title": "Introduction to Functions",
        "summary": "Learn what functions are.",
        "difficulty": "beginner",
        "tags": ["python", "functions"],
        "estimated_minutes": 20,
        "xp": 100,
        "passing_score": 70,
        "narrator": {"tone": "playful", "persona": "Professor Pip"},
        "steps": [
            {
                "id": "welcome",
                "type": "gate",
                "title": "Welcome",
                "body": "Markdown shown to the learner.",
                "narrate": True,
            },
            {
                "id": "what-is",
                "type": "mcq",
                "title": "What is a function?",
                "prompt": "Which best describes a function?",
                "choices": [
                    {"text": "A named, reusable block of code", "correct": True},
                    {"text": "A variable that stores numbers", "feedback": "That is a variable."},
                ],
                "points": 20,
                "hints": ["Think about reuse."],
                "explanation": "Shown once the step is closed.",
            },
            {
                "id": "pick-all",
                "type": "multi",
                "title": "Pick all",
                "prompt": "Which are true?",
                "choices": [
                    {"text": "a", "correct": True},
                    {"text": "b", "correct": True},
                    {"text": "c"},
                ],
                "points": 10,
            },
            {
                "id": "must-return",
                "type": "true_false",
                "title": "Return",
                "prompt": "Every Python function must contain a return statement.",
                "answer": False,
                "points": 20,
            },
            {
                "id": "why",
                "type": "chat",
                "title": "Why functions",
                "prompt": "In your own words, why do programmers write functions?",
                "points": 30,
                "max_attempts": 4,
                "rubric": [
                    {
                        "id": "reuse",
                        "description": "Explains reuse.",
                        "points": 15,
                        "concepts": ["reuse", "DRY"],
                    },
                    {"id": "organisation", "description": "Mentions structure.", "points": 15},
                ],
                "reference_answer": "Functions package logic under a name so it can be reused.",
                "examples": [
                    {"answer": "So you can reuse code.", "expect": "pass"},
                    {"answer": "Functions make the computer faster.", "expect": "fail"},
                ],
            },
        ],
    }


def step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["id"] == step_id)


def write(tmp_path: Path, data: dict[str, Any], name: str = CHALLENGE_ID) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def rejection(path: Path) -> str:
    with pytest.raises(ChallengeLoadError) as caught:
        load_challenge_file(path)
    assert caught.value.path == str(path)
    return caught.value.message


def assert_names(message: str, path: Path, *parts: str) -> None:
    assert str(path) in message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# --- rejections ----------------------------------------------------------------------------------


def test_an_unknown_top_level_key_is_rejected(tmp_path):
    data = valid()
    data["difficutly"] = "beginner"
    path = write(tmp_path, data)

    message = rejection(path)

    assert_names(
        message, path, "difficutly: unknown key 'difficutly'", "did you mean 'difficulty'?"
    )


def test_an_unknown_key_inside_a_step_is_rejected(tmp_path):
    data = valid()
    step(data, "what-is")["pionts"] = 20
    path = write(tmp_path, data)

    message = rejection(path)

    assert_names(
        message, path, "steps[1].pionts (step 'what-is')", "unknown key", "did you mean 'points'?"
    )


def test_an_unknown_key_inside_a_choice_is_rejected(tmp_path):
    data = valid()
    step(data, "what-is")["choices"][0]["corect"] = True
    path = write(tmp_path, data)

    assert_names(
        rejection(path),
        path,
        "steps[1].choices[0].corect (step 'what-is')",
        "did you mean 'correct'?",
    )


def test_duplicate_step_ids_are_rejected(tmp_path):
    data = valid()
    duplicate = copy.deepcopy(step(data, "what-is"))
    data["steps"].append(duplicate)
    path = write(tmp_path, data)

    message = rejection(path)

    assert_names(message, path, ": steps: ", "duplicate", "what-is")


def test_an_mcq_without_a_correct_choice_is_rejected(tmp_path):
    data = valid()
    for choice in step(data, "what-is")["choices"]:
        choice.pop("correct", None)
    path = write(tmp_path, data)

    message = rejection(path)

    assert_names(message, path, "steps[1].choices (step 'what-is')", "exactly one correct choice")
    assert "found 0" in message


def test_an_mcq_with_two_correct_choices_is_rejected(tmp_path):
    data = valid()
    for choice in step(data, "what-is")["choices"]:
        choice["correct"] = True
    path = write(tmp_path, data)

    message = rejection(path)

    assert_names(message, path, "steps[1].choices (step 'what-is')", "found 2")


def test_a_multi_without_a_correct_choice_is_rejected(tmp_path):
    data = valid()
    for choice in step(data, "pick-all")["choices"]:
        choice["correct"] = False
    path = write(tmp_path, data)

    assert_names(rejection(path), path, "steps[2].choices (step 'pick-all')", "correct")


def test_rubric_points_that_do_not_sum_to_the_step_points_are_rejected(tmp_path):
    data = valid()
    step(data, "why")["rubric"][1]["points"] = 10
    path = write(tmp_path, data)

    message = rejection(path)

    assert_names(message, path, "steps[4].rubric (step 'why')", "25", "30")


@pytest.mark.parametrize("answer", ["false", 0, 1, "no"], ids=repr)
def test_a_true_false_answer_that_is_not_a_boolean_is_rejected(tmp_path, answer):
    data = valid()
    step(data, "must-return")["answer"] = answer
    path = write(tmp_path, data)

    assert_names(rejection(path), path, "steps[3].answer (step 'must-return')", "boolean")


def test_a_quoted_false_in_the_yaml_is_not_a_boolean(tmp_path):
    path = tmp_path / f"{CHALLENGE_ID}.yaml"
    text = yaml.safe_dump(valid(), sort_keys=False).replace("answer: false", 'answer: "false"')
    assert 'answer: "false"' in text
    path.write_text(text, encoding="utf-8")

    assert_names(rejection(path), path, "steps[3].answer (step 'must-return')", "without quotes")


def test_a_chat_step_without_a_rubric_is_rejected(tmp_path):
    data = valid()
    del step(data, "why")["rubric"]
    path = write(tmp_path, data)

    assert_names(rejection(path), path, "steps[4].rubric (step 'why')")


def test_a_chat_step_with_an_empty_rubric_is_rejected(tmp_path):
    data = valid()
    step(data, "why")["rubric"] = []
    path = write(tmp_path, data)

    assert_names(rejection(path), path, "steps[4].rubric (step 'why')")


def test_an_id_that_does_not_match_the_file_name_is_rejected(tmp_path):
    path = write(tmp_path, valid(), name="another-name")

    message = rejection(path)

    assert_names(message, path, ": id: ", CHALLENGE_ID, "another-name")


def test_invalid_yaml_is_rejected(tmp_path):
    path = tmp_path / f"{CHALLENGE_ID}.yaml"
    path.write_text("id: demo-challenge\nsteps: [\n  - id: what-is\n", encoding="utf-8")

    assert_names(rejection(path), path, "not valid YAML")


def test_a_yaml_file_that_is_not_a_mapping_is_rejected(tmp_path):
    path = tmp_path / f"{CHALLENGE_ID}.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")

    assert_names(rejection(path), path, "mapping")


def test_an_unknown_step_type_is_rejected(tmp_path):
    data = valid()
    step(data, "what-is")["type"] = "essay"
    path = write(tmp_path, data)

    message = rejection(path)

    assert_names(message, path, "steps[1].type (step 'what-is')", "mcq", "true_false", "chat")


def test_a_missing_file_is_rejected_with_its_path(tmp_path):
    path = tmp_path / "nowhere.yaml"

    assert_names(rejection(path), path, "cannot read")


def test_a_step_without_an_id_is_named_by_its_position(tmp_path):
    data = valid()
    del data["steps"][2]["id"]
    path = write(tmp_path, data)

    assert_names(rejection(path), path, "steps[2].id (step '#3')", "required")


def test_every_problem_in_a_file_is_reported(tmp_path):
    data = valid()
    step(data, "what-is")["pionts"] = 1
    step(data, "must-return")["answer"] = "false"
    path = write(tmp_path, data)

    with pytest.raises(ChallengeLoadError) as caught:
        load_challenge_file(path)

    problems = caught.value.problems
    assert any("step 'what-is'" in p and "'pionts'" in p for p in problems)
    assert any("step 'must-return'" in p and ".answer" in p for p in problems)
    assert all(re.match(rf"{re.escape(str(path))}:\d+: ", line) for line in problems)
    assert caught.value.message.splitlines() == problems


def test_a_load_error_is_a_domain_error():
    assert issubclass(ChallengeLoadError, InvalidContent)
    assert issubclass(ChallengeLoadError, DomainError)


# --- a valid file --------------------------------------------------------------------------------


def test_a_valid_file_loads_and_converts_with_defaults_resolved(tmp_path):
    path = write(tmp_path, valid())

    spec = to_spec(load_challenge_file(path))

    assert (spec.id, spec.version, spec.title) == (CHALLENGE_ID, 2, "Introduction to Functions")
    assert (spec.xp, spec.passing_score, spec.tone, spec.persona) == (
        100,
        70,
        "playful",
        "Professor Pip",
    )
    assert spec.tags == ("python", "functions")
    assert spec.max_score == 80
    kinds = [s.kind for s in spec.steps]
    assert kinds == [
        StepKind.GATE,
        StepKind.MCQ,
        StepKind.MULTI,
        StepKind.TRUE_FALSE,
        StepKind.CHAT,
    ]
    welcome, what_is, pick_all, must_return, why = spec.steps
    assert (welcome.points, welcome.max_attempts, welcome.narrate) == (0, 1, True)
    assert (what_is.pass_threshold, what_is.max_attempts) == (100, 2)
    assert (pick_all.pass_threshold, pick_all.max_attempts) == (60, 2)
    assert (must_return.pass_threshold, must_return.max_attempts) == (100, 2)
    assert (why.pass_threshold, why.max_attempts) == (60, 4)  # max_attempts authored
    assert what_is.correct_choices == frozenset({0})
    assert what_is.choices[1].feedback == "That is a variable."
    assert what_is.hints == ("Think about reuse.",)
    assert (what_is.hint_cost, what_is.max_llm_hints) == (10, 1)
    assert what_is.hints_available == 2
    assert what_is.explanation == "Shown once the step is closed."
    assert must_return.answer is False
    assert [(r.id, r.points) for r in why.rubric] == [("reuse", 15), ("organisation", 15)]
    assert why.rubric[0].concepts == ("reuse", "DRY")
    assert why.reference_answer is not None


def test_a_minimal_file_gets_every_default(tmp_path):
    data = {
        "id": CHALLENGE_ID,
        "title": "Tiny",
        "steps": [
            {
                "id": "why",
                "type": "chat",
                "title": "Why",
                "prompt": "Why?",
                "points": 10,
                "rubric": [{"id": "reuse", "description": "Reuse.", "points": 10}],
            }
        ],
    }

    spec = to_spec(load_challenge_file(write(tmp_path, data)))

    assert (spec.version, spec.xp, spec.passing_score, spec.tone) == (1, 100, 70, "encouraging")
    assert (spec.steps[0].pass_threshold, spec.steps[0].max_attempts) == (60, 3)


def test_an_authored_threshold_of_zero_is_kept(tmp_path):
    data = valid()
    step(data, "what-is")["pass_threshold"] = 0
    spec = to_spec(load_challenge_file(write(tmp_path, data)))

    assert spec.steps[1].pass_threshold == 0


def test_a_stored_definition_rebuilds_the_same_spec(tmp_path):
    challenge = load_challenge_file(write(tmp_path, valid()))

    rebuilt = spec_from_definition(challenge.model_dump(mode="json"), version=7)

    assert rebuilt == to_spec(challenge, version=7)
    assert rebuilt.version == 7


# --- content hash and schema ---------------------------------------------------------------------

BLOCK = """\
# A challenge, written one way.
id: demo-challenge
title: Tiny
steps:
  - id: q            # the only step
    type: mcq
    title: Q
    prompt: Pick one.
    points: 10
    choices:
      - text: right
        correct: true
      - text: wrong
"""

FLOW = """\
steps: [{type: mcq, id: q, prompt: "Pick one.", title: Q, points: 10,
         choices: [{text: right, correct: true}, {text: "wrong"}]}]
title:   "Tiny"
id: demo-challenge
"""


def test_content_hash_ignores_comments_and_formatting():
    block = parse_challenge(BLOCK, source="block.yaml")
    flow = parse_challenge(FLOW, source="flow.yaml")

    assert block == flow
    assert content_hash(block) == content_hash(flow)


def test_content_hash_changes_with_the_content():
    block = parse_challenge(BLOCK, source="block.yaml")
    edited = parse_challenge(BLOCK.replace("points: 10", "points: 11"), source="block.yaml")

    assert content_hash(block) != content_hash(edited)
    assert len(content_hash(block)) == 64


def test_the_schema_is_a_json_schema_of_the_step_types():
    schema = challenge_schema()

    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert {"id", "title", "steps"} <= set(schema["required"])
    items = schema["properties"]["steps"]["items"]
    assert items["discriminator"]["propertyName"] == "type"
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == {"gate", "mcq", "multi", "true_false", "chat", "code"}
    for type_name, ref in mapping.items():
        definition = schema["$defs"][ref.removeprefix("#/$defs/")]
        assert definition["properties"]["type"]["const"] == type_name
        assert definition["additionalProperties"] is False
    assert schema["$defs"]["TrueFalseStep"]["properties"]["answer"]["type"] == "boolean"
    assert "rubric" in schema["$defs"]["ChatStep"]["required"]


def test_a_step_without_a_type_names_the_type_field(tmp_path):
    data = valid()
    del step(data, "what-is")["type"]
    path = write(tmp_path, data)

    assert_names(rejection(path), path, "steps[1].type (step 'what-is')")


def test_a_misconception_must_be_a_statement_and_not_a_concept(tmp_path):
    data = valid()
    chat_step = next(s for s in data["steps"] if s["type"] == "chat")
    item = chat_step["rubric"][0]
    item["misconceptions"] = ["print"]
    message = rejection(write(tmp_path, data))
    assert_names(message, tmp_path, "misconceptions[0]", "2 or more words")
    item["misconceptions"] = [item["concepts"][0] + " always", item["concepts"][0] + " always"]
    assert_names(rejection(write(tmp_path, data)), tmp_path, "misconceptions[1]", "listed twice")


def test_misconceptions_load_into_the_engines_rubric(tmp_path):
    data = valid()
    chat_step = next(s for s in data["steps"] if s["type"] == "chat")
    chat_step["rubric"][0]["misconceptions"] = ["print returns the value"]
    spec = to_spec(load_challenge_file(write(tmp_path, data)))
    step_spec = next(s for s in spec.steps if s.id == chat_step["id"])
    assert step_spec.rubric[0].misconceptions == ("print returns the value",)


# --- messages that teach (one style: file:line: path (step 'id'): what, the value, the fix) -----

TAUGHT = """\
id: demo-challenge
title: Taught
steps:
  - id: pick
    type: mcq
    title: Pick
    promt: Which?
    points: "20"
    hints:
      - Remember: reuse
    choices:
      - {text: Yes, correct: true}
      - {text: No}
"""


def taught_problems(tmp_path: Path) -> list[str]:
    path = tmp_path / f"{CHALLENGE_ID}.yaml"
    path.write_text(TAUGHT, encoding="utf-8")
    with pytest.raises(ChallengeLoadError) as caught:
        load_challenge_file(path)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems)
    return [p.removeprefix(prefix) for p in caught.value.problems]


def test_a_misspelt_key_gets_a_did_you_mean_with_its_line(tmp_path):
    problems = taught_problems(tmp_path)
    assert (
        "7: steps[0].promt (step 'pick'): unknown key 'promt' (not part of the challenge "
        "format); did you mean 'prompt'?"
    ) in problems


def test_yes_and_no_read_as_booleans_are_explained(tmp_path):
    problems = taught_problems(tmp_path)
    assert (
        "12: steps[0].choices[0].text (step 'pick'): expected text, got Yes which YAML reads as "
        'the boolean true; put it in quotes: "Yes"'
    ) in problems
    assert any(p.startswith("13: steps[0].choices[1].text (step 'pick'): ") for p in problems)


def test_an_unquoted_colon_in_a_hint_is_explained(tmp_path):
    problems = taught_problems(tmp_path)
    (hint,) = [p for p in problems if ".hints[0]" in p]
    assert hint.startswith("10: steps[0].hints[0] (step 'pick'): expected text, got a mapping")
    assert "put the whole text in quotes" in hint


def test_quoted_points_are_rejected_like_a_quoted_boolean(tmp_path):
    problems = taught_problems(tmp_path)
    assert (
        "8: steps[0].points (step 'pick'): must be a whole number, got the text '20'; write it "
        "without quotes"
    ) in problems


def test_problems_come_in_file_order_and_never_raw_pydantic(tmp_path):
    problems = taught_problems(tmp_path)
    lines = [int(p.split(":")[0]) for p in problems]
    assert lines == sorted(lines)
    assert not any("Input should be" in p for p in problems)


def test_a_yaml_syntax_error_is_one_problem_with_line_and_column(tmp_path):
    path = tmp_path / f"{CHALLENGE_ID}.yaml"
    path.write_text("id: demo-challenge\ntitle: T\nsteps: [\n  - id: what-is\n", encoding="utf-8")
    with pytest.raises(ChallengeLoadError) as caught:
        load_challenge_file(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:4:3: not valid YAML: ")
    assert "<unicode string>" not in problem
    assert "  - id: what-is\n      ^" in problem
