"""Hints must teach, not tell: a generated hint may never quote the answer key.

The answer key of a step is what a learner is being asked to produce: the rubric items'
descriptions, the reference answer, the correct choices, and a true/false verdict. A hint that
contains any of them verbatim (case, punctuation and spacing aside), or a long run of a rubric
description's or reference answer's words, gives the answer away; :func:`guard_hint` swaps it for a
safe Socratic nudge built from the question alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.engine.challenge import StepSpec
from core.llm.base import HintRequest

# A run of this many words copied from a rubric description or reference answer is a quotation.
QUOTED_RUN_WORDS = 5
# Shorter key texts ("1", "True", "xs") occur in ordinary sentences; only longer ones are checked.
SHORTEST_KEY = 6
_VERDICT = re.compile(
    r"\b(the (correct |right )?answer is|the statement is|it is|it's|that is) (true|false)\b", re.I
)
_WORD = re.compile(r"\w+")
# The most telling parts of a key: code in backticks, a parenthesis, what follows "e.g."
_FRAGMENT = re.compile(r"`([^`]+)`|\(([^)]+)\)|\b(?:e\.g\.|for example|such as)\s*([^.;)]+)", re.I)


@dataclass(frozen=True, slots=True)
class HintCheck:
    """Whether a hint leaks the answer key, and which part of the key it quotes."""

    leaks: bool
    quoted: str | None = None


def answer_key_of(step: StepSpec) -> tuple[str, ...]:
    """The texts of ``step`` a hint must not quote beyond its rubric: correct choices and the
    reference answer (the rubric travels in the request already)."""
    correct = tuple(step.choices[i].text for i in sorted(step.correct_choices))
    reference = (step.reference_answer,) if step.reference_answer else ()
    return (*correct, *reference)


def answer_key(request: HintRequest) -> tuple[str, ...]:
    """Every text a hint for ``request``'s step must not quote."""
    return (*(item.description for item in request.rubric), *request.answer_key)


def check_hint(text: str, request: HintRequest) -> HintCheck:
    """Given a generated hint, say whether it quotes the step's answer key."""
    said = _collapse(text)
    words = _words(text)
    for key in answer_key(request):
        for part in (key, *_fragments(key)):
            collapsed = _collapse(part)
            if len(collapsed) >= SHORTEST_KEY and collapsed in said:
                return HintCheck(True, key)
        run = _shared_run(_words(key), words)
        if run >= QUOTED_RUN_WORDS:
            return HintCheck(True, key)
    if request.step_kind == "true_false" and _VERDICT.search(text):
        return HintCheck(True, _VERDICT.search(text)[0])  # type: ignore[index]
    return HintCheck(False)


def guard_hint(text: str, request: HintRequest) -> tuple[str, bool]:
    """The hint to show and whether it had to be replaced because it gave the answer away."""
    if not check_hint(text, request).leaks:
        return text, False
    return safe_hint(request), True


def safe_hint(request: HintRequest) -> str:
    """A nudge built from the question alone (never from the rubric, reference or choices)."""
    if request.rubric:
        count = len(request.rubric)
        ideas = "one idea" if count == 1 else f"{count} separate ideas"
        return (
            f"A full answer covers {ideas}. Re-read the question and, for each part of it, ask "
            "whether your answer explains it in your own words. Which part have you not "
            "explained yet?"
        )
    if request.step_kind == "true_false":
        return (
            "Try to find one example that would make the statement wrong. If you cannot, what "
            "does that tell you?"
        )
    return (
        "Rule out the options you are sure are wrong first, then compare what is left word by word."
    )


_EXAMPLE_LEAD = re.compile(r"^\s*(e\.g\.|for example|such as)[\s,:]*", re.I)


def _fragments(key: str) -> list[str]:
    found = [next(g for g in match.groups() if g) for match in _FRAGMENT.finditer(key)]
    return [_EXAMPLE_LEAD.sub("", fragment) for fragment in found]


def _collapse(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _shared_run(key: list[str], said: list[str]) -> int:
    """The longest run of consecutive words ``key`` and ``said`` share."""
    if not key or not said:
        return 0
    best = 0
    previous = [0] * (len(said) + 1)
    for word in key:
        current = [0] * (len(said) + 1)
        for index, other in enumerate(said, start=1):
            if word == other:
                current[index] = previous[index - 1] + 1
                best = max(best, current[index])
        previous = current
    return best
