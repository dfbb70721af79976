"""Every shipped challenge loads, mixes all five step types, and plays as its author intends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.authoring.playthrough import correct_answer, evaluation_request, play_path, wrong_answer
from core.content import challenge_schema, load_challenge_file, to_spec
from core.engine import StepKind
from core.engine.events import LlmTrace
from core.llm.offline import evaluate_offline

CHALLENGES = Path(__file__).resolve().parents[2] / "challenges"
FILES = sorted(CHALLENGES.glob("*.yaml"))
REQUIRED = {"python-functions", "git-commits-branches", "rest-api-design", "python-testing"}
CODE_CENTRED = {"python-testing"}


def _spec(path: Path):
    return to_spec(load_challenge_file(path))


def _first_passing_example(step_id: str, path: Path) -> str:
    challenge = load_challenge_file(path)
    step = next(s for s in challenge.steps if s.id == step_id)
    return next(e.answer for e in step.examples if e.expect == "pass")  # type: ignore[union-attr]


def test_the_production_challenges_are_all_there():
    assert {path.stem for path in FILES} >= REQUIRED
    assert len(FILES) >= 4


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_challenge_mixes_the_step_types_with_rich_chat_steps(path: Path):
    challenge = load_challenge_file(path)
    types = {step.type for step in challenge.steps}
    if challenge.id in CODE_CENTRED:
        assert {"gate", "code"} <= types and types & {"mcq", "multi", "true_false"}
    else:
        assert {"gate", "mcq", "multi", "true_false", "chat"} <= types
    for step in challenge.steps:
        if step.type == "chat":
            assert step.reference_answer
            assert all(item.concepts for item in step.rubric)
            expects = [example.expect for example in step.examples]
            assert expects.count("pass") >= 2 and expects.count("fail") >= 2, step.id


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_all_correct_path_passes_with_full_marks_on_choice_steps(path: Path):
    spec = _spec(path)

    def choose(step, attempt):
        if step.kind is StepKind.CHAT:
            return _first_passing_example(step.id, path)
        return correct_answer(step, attempt)

    result = play_path(spec, choose)
    assert result.passed, result.state.result
    for step in spec.steps:
        if step.kind not in (StepKind.CHAT, StepKind.GATE):
            assert result.step_scores[step.id] == step.points, step.id
    assert result.state.result is not None and result.state.result.xp_granted > 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_all_wrong_path_fails(path: Path):
    result = play_path(_spec(path), wrong_answer)
    assert result.state.result is not None
    assert not result.passed
    assert result.state.result.xp_granted == 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_offline_evaluator_agrees_with_every_labelled_example(path: Path):
    spec = _spec(path)
    challenge = load_challenge_file(path)
    disagreements = []
    for step_file in challenge.steps:
        if step_file.type != "chat":
            continue
        step = next(s for s in spec.steps if s.id == step_file.id)
        for example in step_file.examples:
            verdict = evaluate_offline(
                evaluation_request(step, example.answer), trace=LlmTrace("offline", "t")
            )
            earned = sum(item.points for item in verdict.items)
            passed = earned >= step.points * step.pass_threshold / 100
            if passed != (example.expect == "pass"):
                disagreements.append(
                    f"{step.id}: expected {example.expect}, got {earned}: {example.answer!r}"
                )
    assert not disagreements, "\n".join(disagreements)


def test_published_schema_matches_the_models():
    published = json.loads((CHALLENGES / "schema.json").read_text(encoding="utf-8"))
    assert published == challenge_schema(), "run: curiouscore schema -o challenges/schema.json"
