"""Scoring a code answer: the sandbox's per-test report in, points and feedback per test out.

Each test is an item worth its points, earned when it passed. A visible test's feedback carries the
assertion message and the learner's own output (clipped); a hidden test says passed or failed only.
"""

from __future__ import annotations

from core.engine.challenge import CodeSpec, StepSpec
from core.engine.commands import CodeTestResult
from core.engine.events import CodeRunTrace, ItemResult

MAX_CODE_ANSWER = 20_000
FEEDBACK_CLIP = 1000
STATUS_NOTES = {
    "timeout": "Your code ran out of time; tests that had not finished count as failed.",
    "output_limit": "Your code printed too much; the run was stopped.",
    "crashed": "Your program stopped before every test had run.",
}


def validate_code(answer: object) -> str:
    """Return the code as given, or raise ValueError saying what is wrong with it."""
    if not isinstance(answer, str):
        raise ValueError("this step takes your code as text")
    if not answer.strip():
        raise ValueError("the code is empty; write your solution first")
    if len(answer) > MAX_CODE_ANSWER:
        raise ValueError(f"the code is {len(answer)} characters; the limit is {MAX_CODE_ANSWER}")
    return answer


def score_code_run(
    step: StepSpec, results: tuple[CodeTestResult, ...], run: CodeRunTrace
) -> tuple[float, str, tuple[ItemResult, ...]]:
    """Return the raw points, the overall feedback and one item per test of ``step``."""
    code = step.code
    assert code is not None
    reported = {result.id: result for result in results}
    items = []
    passed = 0
    for test in code.tests:
        result = reported.get(test.id)
        ok = result is not None and result.passed
        passed += ok
        items.append(
            ItemResult(
                id=test.id,
                points=float(test.points) if ok else 0.0,
                max_points=test.points,
                feedback=_test_feedback(ok, result, hidden=test.hidden),
            )
        )
    raw = sum(item.points for item in items)
    summary = f"{passed} of {len(code.tests)} tests passed."
    if passed == len(code.tests):
        summary = f"All {len(code.tests)} tests passed!"
    note = STATUS_NOTES.get(run.status)
    return raw, f"{summary} {note}" if note else summary, tuple(items)


def _test_feedback(ok: bool, result: CodeTestResult | None, *, hidden: bool) -> str:
    verdict = "Passed." if ok else "Failed."
    if hidden:
        return f"{verdict} (hidden test)"
    if result is None:
        return verdict
    parts = [verdict]
    if not ok and result.message:
        parts.append(_clip(result.message))
    if result.output:
        parts.append("Output:\n\n" + _fence(_clip(result.output)))
    return "\n\n".join(parts)


def _clip(text: str) -> str:
    return text if len(text) <= FEEDBACK_CLIP else text[:FEEDBACK_CLIP] + " …"


def _fence(text: str) -> str:
    """A fenced block that the learner's text cannot close early."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def visible_tests(code: CodeSpec) -> tuple[str, ...]:
    """The ids of the tests a learner may run without spending an attempt."""
    return tuple(test.id for test in code.tests if not test.hidden)
