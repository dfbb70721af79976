"""Loading code steps: the format, defaults, and errors that name the file, step and field."""

from __future__ import annotations

import copy

import pytest

from core.content import load_challenge_file, to_spec
from core.engine.challenge import StepKind
from tests.core.content.test_loader import CHALLENGE_ID, assert_names, rejection, valid, write

PYTHON_STEP = {
    "id": "fizzbuzz",
    "type": "code",
    "language": "python",
    "title": "FizzBuzz",
    "prompt": "Write fizzbuzz(n).",
    "points": 20,
    "starter": "def fizzbuzz(n):\n    ...",
    "solution": "def fizzbuzz(n):\n    return str(n)",
    "tests": [
        {"id": "plain", "points": 10, "code": "assert fizzbuzz(7) == '7'"},
        {"id": "hidden", "points": 10, "code": "assert fizzbuzz(8) == '8'", "hidden": True},
    ],
}
SQL_STEP = {
    "id": "join",
    "type": "code",
    "language": "sql",
    "title": "Join",
    "prompt": "Join them.",
    "points": 10,
    "setup": "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
    "solution": "SELECT x FROM t",
}


def with_step(extra: dict) -> dict:
    data = valid()
    data["steps"].append(copy.deepcopy(extra))
    return data


def test_a_python_code_step_loads_with_its_defaults(tmp_path):
    spec = to_spec(load_challenge_file(write(tmp_path, with_step(PYTHON_STEP))))
    step = spec.steps[-1]
    assert step.kind is StepKind.CODE and step.pass_threshold == 100 and step.max_attempts == 5
    assert step.code.time_limit_seconds == 2 and step.code.memory_limit_mb == 128
    assert [(t.id, t.hidden) for t in step.code.tests] == [("plain", False), ("hidden", True)]


def test_a_sql_step_without_tests_gets_one_result_test_worth_every_point(tmp_path):
    spec = to_spec(load_challenge_file(write(tmp_path, with_step(SQL_STEP))))
    assert [(t.id, t.points) for t in spec.steps[-1].code.tests] == [("result", 10)]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"tests": [{"id": "a", "points": 5, "code": "pass"}]}, "tests", "sum to 5"),
        ({"tests": [{"id": "a", "points": 20}]}, "tests", "need code"),
        ({"language": "ruby"}, "language", "python"),
        ({"time_limit_seconds": 11}, "time_limit_seconds", "10"),
        ({"memory_limit_mb": 1024}, "memory_limit_mb", "512"),
        ({"solution": ""}, "solution", "must not be empty"),
        ({"tests": []}, "tests", "at least one test"),
        ({"setup": "CREATE TABLE t (x)"}, "setup", "only sql"),
        ({"expected": 1}, "expected", "unknown key"),
    ],
)
def test_bad_python_code_steps_are_rejected_naming_the_field(tmp_path, change, field, words):
    path = write(tmp_path, with_step({**PYTHON_STEP, **change}))
    assert_names(rejection(path), path, "step 'fizzbuzz'", f".{field}", words)


def test_a_sql_step_needs_a_setup_and_no_test_code(tmp_path):
    no_setup = {k: v for k, v in SQL_STEP.items() if k != "setup"}
    path = write(tmp_path, with_step(no_setup))
    assert_names(rejection(path), path, "step 'join'", ".setup", "needs setup")
    coded = {**SQL_STEP, "tests": [{"id": "a", "points": 10, "code": "assert 1"}]}
    path = write(tmp_path, with_step(coded), CHALLENGE_ID)
    assert_names(rejection(path), path, "step 'join'", ".tests", "not code")


def test_a_python_test_may_have_a_setup_run_in_the_learners_process(tmp_path):
    tests = [
        {"id": "plain", "points": 5, "code": "assert fizzbuzz(1) == '1'"},
        {"id": "swapped", "points": 5, "code": "assert fizzbuzz(2) == '2'", "setup": "x = 1"},
    ]
    step = {**PYTHON_STEP, "points": 10, "tests": tests}
    spec = to_spec(load_challenge_file(write(tmp_path, with_step(step))))
    code = spec.steps[-1].code
    assert code is not None and [t.setup for t in code.tests] == ["", "x = 1"]
