"""Authoring rules beyond the file format: content a loader accepts but a learner would suffer from.

Errors are content that cannot work (every answer passes, nothing to validate chat grading with);
warnings are content that usually hurts (a choice that gives the answer away, a one-item rubric,
TODO text left in, feedback that contradicts a ``correct`` flag). Every finding names the step and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.authoring.findings import Finding, Severity
from core.content.models import (
    ChallengeFile,
    ChatStep,
    CodeStep,
    GateStep,
    McqStep,
    MultiStep,
    TrueFalseStep,
)
from core.engine.challenge import DEFAULT_PASS_THRESHOLD, StepKind

CHECK = "lint"
RUBRIC_ITEMS = (2, 5)
CHAT_PASS_MARK = (40, 90)
PASSING_SCORE = (50, 95)
# Minutes a learner needs per step, (at least, at most), to sanity-check ``estimated_minutes``.
MINUTES_PER_STEP = {
    "gate": (0.5, 3.0),
    "mcq": (1.0, 3.0),
    "true_false": (0.5, 3.0),
    "multi": (1.5, 4.0),
    "chat": (3.0, 10.0),
    "code": (3.0, 20.0),
}
LONGEST_CHOICE_RATIO = 2.0
LONGEST_CHOICE_MARGIN = 40
_CATCH_ALL = re.compile(
    r"\b(all|none|both|neither) of (the )?(above|these|those|them)\b|\ball (of )?the above\b", re.I
)
_TODO = re.compile(r"\bTODO\b")
TODO_FIX = "replace it before publishing (seed refuses TODO text)"

AnyStep = GateStep | McqStep | MultiStep | TrueFalseStep | ChatStep | CodeStep


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _exact(text: str) -> str:
    """The text as a learner reads it: only whitespace differences are ignored (``a == b`` and
    ``a != b`` differ, so do ``'APPLE'`` and ``'apple'``)."""
    return " ".join(text.split())


# Feedback that opens by calling the choice right or wrong: a sign its ``correct`` flag is wrong.
_SAYS_RIGHT = re.compile(
    r"^\W*(correct|right|yes|exactly|that'?s (it|right|correct)|well done|spot on)\b(?! *(\?|but))",
    re.I,
)
_SAYS_WRONG = re.compile(
    r"^\W*(wrong|incorrect|not (quite|correct|right|really)|no\b|nope|that'?s (wrong|not))",
    re.I,
)
_STATEMENT_IS = re.compile(r"^\W*(true|false)\b", re.I)
QUOTED_CHOICE_MIN = 12


def lint_challenge(challenge: ChallengeFile) -> list[Finding]:
    """Return every authoring-rule finding for ``challenge``, challenge-level first."""
    findings = list(_challenge_rules(challenge))
    for step in challenge.steps:
        findings.extend(_step_rules(step))
    findings.extend(_todo_notes(challenge))
    return findings


def _finding(severity: Severity, message: str, step: str | None, field: str) -> Finding:
    return Finding(CHECK, severity, message, step, field)


def _challenge_rules(challenge: ChallengeFile) -> Iterator[Finding]:
    scored = [s for s in challenge.steps if s.type != "gate"]
    if not scored:
        yield _finding(Severity.ERROR, "no scored step: add at least one question", None, "steps")
    low, high = PASSING_SCORE
    if challenge.passing_score == 0:
        yield _finding(
            Severity.ERROR, "passing_score 0 passes every learner", None, "passing_score"
        )
    elif not low <= challenge.passing_score <= high:
        message = (
            f"passing_score {challenge.passing_score}% is outside {low}–{high}%: too low passes "
            "learners who got most of it wrong; too high fails anyone who takes a hint"
        )
        yield _finding(Severity.WARNING, message, None, "passing_score")
    least = sum(MINUTES_PER_STEP[s.type][0] for s in challenge.steps)
    most = sum(MINUTES_PER_STEP[s.type][1] for s in challenge.steps)
    if not least <= challenge.estimated_minutes <= most:
        message = (
            f"estimated_minutes {challenge.estimated_minutes} does not fit {len(challenge.steps)} "
            f"steps (expect {least:g}–{most:g} minutes for these step types)"
        )
        yield _finding(Severity.WARNING, message, None, "estimated_minutes")


def _step_rules(step: AnyStep) -> Iterator[Finding]:
    if isinstance(step, GateStep):
        if not (step.body or step.prompt):
            yield _finding(
                Severity.WARNING,
                "a gate with no body or prompt shows only its title",
                step.id,
                "body",
            )
        return
    threshold = step.pass_threshold
    if threshold is None:
        threshold = DEFAULT_PASS_THRESHOLD[StepKind(step.type)]
    if threshold == 0:
        yield _finding(
            Severity.ERROR,
            "pass_threshold 0 passes every answer, even an empty one",
            step.id,
            "pass_threshold",
        )
    if not step.explanation:
        message = "no explanation: a learner who runs out of attempts is never told the answer"
        yield _finding(Severity.WARNING, message, step.id, "explanation")
    if isinstance(step, McqStep | MultiStep):
        yield from _choice_rules(step)
        yield from _flag_rules(step)
    elif isinstance(step, TrueFalseStep):
        yield from _statement_rules(step)
    elif isinstance(step, ChatStep):
        yield from _chat_rules(step, threshold)


def _choice_rules(step: McqStep | MultiStep) -> Iterator[Finding]:
    prompt = _normal(step.prompt)
    seen: dict[str, int] = {}
    near: dict[str, int] = {}
    for index, choice in enumerate(step.choices):
        field = f"choices[{index}].text"
        text = _exact(choice.text)
        if _normal(choice.text) == prompt:
            yield _finding(
                Severity.ERROR, "this choice repeats the prompt word for word", step.id, field
            )
        if text in seen:
            message = f"this choice repeats choices[{seen[text]}]"
            yield _finding(Severity.ERROR, message, step.id, field)
        elif _normal(choice.text) in near:
            other = near[_normal(choice.text)]
            message = (
                f"this choice differs from choices[{other}] only in case or punctuation "
                f"({step.choices[other].text!r} vs {choice.text!r}); fine for code, confusing "
                "for prose"
            )
            yield _finding(Severity.WARNING, message, step.id, field)
        seen.setdefault(text, index)
        near.setdefault(_normal(choice.text), index)
        if _CATCH_ALL.search(choice.text):
            message = (
                f"{choice.text!r} is a catch-all choice; it tends to give the answer away "
                "(and in a multi step it contradicts picking the others)"
            )
            yield _finding(Severity.WARNING, message, step.id, field)
    right = [len(c.text) for c in step.choices if c.correct]
    wrong = [len(c.text) for c in step.choices if not c.correct]
    if not wrong:
        message = "every choice is correct: picking everything earns full marks; add wrong choices"
        yield _finding(Severity.WARNING, message, step.id, "choices")
    elif (
        min(right) >= LONGEST_CHOICE_RATIO * max(wrong)
        and min(right) - max(wrong) >= LONGEST_CHOICE_MARGIN
    ):
        message = (
            f"the correct choice{'s are' if len(right) > 1 else ' is'} much longer than every "
            f"wrong one ({min(right)} vs at most {max(wrong)} characters), which gives the answer "
            "away; trim it or flesh out the others"
        )
        yield _finding(Severity.WARNING, message, step.id, "choices")


def _flag_rules(step: McqStep | MultiStep) -> Iterator[Finding]:
    """Signs that a ``correct`` flag is on the wrong choice. The all-correct and all-wrong paths
    take right and wrong from these same flags, so only the text around them can catch a slip:
    feedback that contradicts the flag, or an explanation that quotes only unflagged choices."""
    for index, choice in enumerate(step.choices):
        feedback = choice.feedback or ""
        if not choice.correct and _SAYS_RIGHT.search(feedback):
            message = (
                f"this choice is not flagged correct, but its feedback says it is right "
                f"({feedback[:40]!r}); set correct: true or fix the feedback"
            )
            yield _finding(Severity.WARNING, message, step.id, f"choices[{index}].correct")
        elif choice.correct and _SAYS_WRONG.search(feedback):
            message = (
                f"this choice is flagged correct, but its feedback says it is wrong "
                f"({feedback[:40]!r}); remove correct: true or fix the feedback"
            )
            yield _finding(Severity.WARNING, message, step.id, f"choices[{index}].correct")
    explanation = _exact(step.explanation or "").lower()
    if not explanation:
        return
    quoted = [
        index
        for index, choice in enumerate(step.choices)
        if len(_exact(choice.text)) >= QUOTED_CHOICE_MIN
        and _exact(choice.text).lower() in explanation
    ]
    if quoted and not any(step.choices[i].correct for i in quoted):
        names = ", ".join(f"choices[{i}]" for i in quoted)
        message = (
            f"the explanation quotes {names}, which {'is' if len(quoted) == 1 else 'are'} not "
            "flagged correct, and no correct choice; is a correct flag on the wrong choice?"
        )
        yield _finding(Severity.WARNING, message, step.id, "explanation")


def _statement_rules(step: TrueFalseStep) -> Iterator[Finding]:
    said = _STATEMENT_IS.match(step.explanation or "")
    if said and (said[1].lower() == "true") != step.answer:
        message = (
            f"the explanation starts {said[1]!r} but the answer is {str(step.answer).lower()}; "
            "one of them is wrong"
        )
        yield _finding(Severity.WARNING, message, step.id, "answer")


def _chat_rules(step: ChatStep, threshold: int) -> Iterator[Finding]:
    low, high = RUBRIC_ITEMS
    total = sum(item.points for item in step.rubric)
    if total != step.points:
        message = f"rubric points sum to {total} but the step is worth {step.points}"
        yield _finding(Severity.ERROR, message, step.id, "rubric")
    if not low <= len(step.rubric) <= high:
        message = (
            f"{len(step.rubric)} rubric item{'s' if len(step.rubric) != 1 else ''}: use {low}–{high} "
            "so grading is neither all-or-nothing nor too fine to be consistent"
        )
        yield _finding(Severity.WARNING, message, step.id, "rubric")
    lowest, highest = CHAT_PASS_MARK
    if threshold and not lowest <= threshold <= highest:
        message = f"pass_threshold {threshold}% is outside {lowest}–{highest}% for a chat step"
        yield _finding(Severity.WARNING, message, step.id, "pass_threshold")
    needed = step.points * threshold / 100
    concept_owner: dict[str, str] = {}
    for index, item in enumerate(step.rubric):
        field = f"rubric[{index}]"
        if threshold and item.points >= needed and len(step.rubric) > 1:
            message = f"rubric item {item.id!r} alone ({item.points} points) passes the step"
            yield _finding(Severity.WARNING, message, step.id, field)
        if not item.concepts:
            message = f"rubric item {item.id!r} has no concepts; the offline evaluator can only give it partial credit"
            yield _finding(Severity.WARNING, message, step.id, f"{field}.concepts")
        for concept in item.concepts:
            key = _normal(concept)
            owner = concept_owner.setdefault(key, item.id)
            if owner != item.id:
                message = f"concept {concept!r} is in both {owner!r} and {item.id!r}; one answer would score twice"
                yield _finding(Severity.WARNING, message, step.id, f"{field}.concepts")
    if not step.reference_answer:
        message = "no reference_answer: evaluators have no model answer to compare with"
        yield _finding(Severity.WARNING, message, step.id, "reference_answer")
    expects = [example.expect for example in step.examples]
    for side in ("pass", "fail"):
        if side not in expects:
            message = (
                f"no example labelled {side!r}: add at least one answer that should {side}, so "
                "validation can check the grading both ways"
            )
            yield _finding(Severity.ERROR, message, step.id, "examples")
    answers = [_normal(example.answer) for example in step.examples]
    for index, answer in enumerate(answers):
        if answer in answers[:index]:
            yield _finding(
                Severity.WARNING,
                "this example repeats an earlier one",
                step.id,
                f"examples[{index}]",
            )


def _todo_notes(challenge: ChallengeFile) -> Iterator[Finding]:
    for key, value in challenge.model_dump(exclude={"steps"}).items():
        if isinstance(value, str) and _TODO.search(value):
            yield _finding(Severity.WARNING, f"still contains TODO text; {TODO_FIX}", None, key)
    for step in challenge.steps:
        fields = sorted(_todo_fields(step.model_dump(), ""))
        if fields:
            message = f"still contains TODO text in {', '.join(fields)}; {TODO_FIX}"
            yield _finding(Severity.WARNING, message, step.id, fields[0])


def todo_fields(challenge: ChallengeFile) -> list[str]:
    """Every field of ``challenge`` still holding TODO text, as ``steps[2].choices[1].text``."""
    found = [
        key
        for key, value in challenge.model_dump(exclude={"steps"}).items()
        if isinstance(value, str) and _TODO.search(value)
    ]
    for index, step in enumerate(challenge.steps):
        found += [f"steps[{index}].{path}" for path in _todo_fields(step.model_dump(), "")]
    return found


def _todo_fields(value: object, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if _TODO.search(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _todo_fields(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _todo_fields(item, f"{path}[{index}]")
