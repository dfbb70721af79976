"""Hints teach, never tell: a hint that quotes the answer key is replaced before a learner sees it."""

from __future__ import annotations

from dataclasses import replace

from core.engine.events import LlmTrace
from core.llm.base import HintRequest, RubricCriterion, TextResult
from core.llm.hint_guard import check_hint, guard_hint, safe_hint
from core.llm.offline import OfflineProvider
from core.llm.orchestrator import LlmOrchestrator

AREA = RubricCriterion(
    "return-value",
    "Proposes replacing the print with a return statement (e.g. return width * height).",
    10,
)


def request(**changes: object) -> HintRequest:
    base = HintRequest(
        challenge_title="Functions",
        step_title="Fix the bug",
        step_kind="chat",
        prompt="area() prints its result; why does total = area(2, 3) + 1 fail, and how to fix it?",
        choices=(),
        rubric=(AREA,),
        hint_index=2,
        previous_hints=(),
        previous_answers=(),
        answer_key=("Return the value instead of printing it: return width * height.",),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_hint_quoting_a_rubric_description_leaks():
    hint = (
        "Think about this part of the question: proposes replacing the print with a return "
        "statement (e.g. return width * height). How would you say it?"
    )
    assert check_hint(hint, request()).leaks


def test_a_hint_copying_five_words_of_the_reference_answer_leaks():
    assert check_hint("Maybe return the value instead of printing?", request()).leaks


def test_a_hint_quoting_the_correct_choice_leaks_and_a_socratic_one_does_not():
    mcq = request(step_kind="mcq", rubric=(), answer_key=("A named, reusable block of code",))
    assert check_hint("It is a named, reusable block of code!", mcq).leaks
    assert not check_hint("What happens to code you need in three places?", mcq).leaks


def test_a_true_false_hint_may_not_state_the_verdict():
    statement = request(step_kind="true_false", rubric=(), answer_key=())
    assert check_hint("Careful: the statement is false.", statement).leaks
    assert not check_hint("Can you write a function with no return line?", statement).leaks


def test_a_leaking_hint_is_replaced_by_a_nudge_built_from_the_question_only():
    text, replaced = guard_hint("Use return width * height instead of print.", request())
    assert replaced and text == safe_hint(request())
    assert "return" not in text.lower() and "print" not in text.lower()


class Leaky(OfflineProvider):
    """A provider whose hint gives the answer away, as the issue's third hint did."""

    name = "leaky"

    async def hint(self, request: HintRequest) -> TextResult:
        trace = LlmTrace("leaky", "m", "h", 1, 1, 0.0, 1)
        return TextResult(f"Hint: {request.rubric[0].description}", trace)


async def test_the_orchestrator_never_returns_a_leaking_hint():
    result, _ = await LlmOrchestrator(Leaky()).hint(request())
    assert not check_hint(result.text, request()).leaks
    assert result.text == safe_hint(request())


async def test_offline_hints_never_quote_the_rubric():
    result, source = await LlmOrchestrator(OfflineProvider()).hint(request())
    assert source == "offline"
    assert "replacing the print with a return statement" not in result.text.lower()
