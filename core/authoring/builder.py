"""Build a challenge in Python instead of writing YAML by hand, then write the YAML file.

    challenge = (
        ChallengeBuilder("python-lists", "Python lists", estimated_minutes=10)
        .gate("welcome", "Welcome", body="Lists hold many values in order.")
        .mcq("index", "Indexing", prompt="What is `[1, 2, 3][0]`?", points=10,
             choices=[right("1"), wrong("2"), wrong("An error")])
        .build()
    )
    write_challenge(challenge, Path("challenges"))

``build`` validates exactly as loading a file does, so its errors name the step and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import yaml

from core.content import ChallengeFile, load_challenge_file, parse_challenge

Difficulty = Literal["beginner", "intermediate", "advanced", "expert"]
# Step keys in the order an author reads them; anything else follows.
_STEP_KEYS = (
    "id", "type", "title", "narrate", "narration", "body", "prompt", "choices", "answer",
    "points", "pass_threshold", "max_attempts", "rubric", "reference_answer", "examples", "hints",
    "explanation",
)  # fmt: skip
_ALWAYS = frozenset(
    {"id", "version", "title", "summary", "difficulty", "tags", "estimated_minutes", "xp",
     "passing_score"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChoiceDraft:
    text: str
    correct: bool = False
    feedback: str | None = None


@dataclass(frozen=True, slots=True)
class RubricDraft:
    id: str
    description: str
    points: int
    concepts: tuple[str, ...] = ()


def right(text: str, feedback: str | None = None) -> ChoiceDraft:
    """A correct choice."""
    return ChoiceDraft(text, True, feedback)


def wrong(text: str, feedback: str | None = None) -> ChoiceDraft:
    """A wrong choice; ``feedback`` tells the learner why."""
    return ChoiceDraft(text, False, feedback)


def criterion(id: str, description: str, points: int, concepts: Sequence[str] = ()) -> RubricDraft:
    """A rubric item; ``concepts`` are the words and phrases the offline evaluator looks for."""
    return RubricDraft(id, description, points, tuple(concepts))


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None and value != []}


class ChallengeBuilder:
    """A typed, chainable way to write a challenge; ``build()`` returns the validated model."""

    def __init__(
        self,
        id: str,
        title: str,
        *,
        summary: str = "",
        difficulty: Difficulty = "beginner",
        tags: Sequence[str] = (),
        estimated_minutes: int = 10,
        xp: int = 100,
        passing_score: int = 70,
        tone: str = "encouraging",
        persona: str | None = None,
        version: int = 1,
    ) -> None:
        self._challenge: dict[str, Any] = {
            "id": id,
            "version": version,
            "title": title,
            "summary": summary,
            "difficulty": difficulty,
            "tags": list(tags),
            "estimated_minutes": estimated_minutes,
            "xp": xp,
            "passing_score": passing_score,
            "narrator": _drop_none({"tone": tone, "persona": persona}),
        }
        self._steps: list[dict[str, Any]] = []

    def _add(self, step: dict[str, Any]) -> Self:
        self._steps.append(_drop_none(step))
        return self

    def gate(
        self,
        id: str,
        title: str,
        *,
        body: str | None = None,
        prompt: str | None = None,
        narration: str | None = None,
    ) -> Self:
        """A page the learner reads and continues past; ``narration`` is what the GM says."""
        narrate = True if narration else None
        return self._add(
            {"id": id, "type": "gate", "title": title, "body": body, "prompt": prompt,
             "narrate": narrate, "narration": narration}
        )  # fmt: skip

    def _choices(
        self,
        kind: str,
        id: str,
        title: str,
        prompt: str,
        choices: Sequence[ChoiceDraft],
        points: int,
        extra: dict[str, Any],
    ) -> Self:
        drafts = [
            _drop_none({"text": c.text, "correct": c.correct or None, "feedback": c.feedback})
            for c in choices
        ]
        step = {"id": id, "type": kind, "title": title, "prompt": prompt, "choices": drafts}
        return self._add({**step, "points": points, **extra})

    def mcq(
        self,
        id: str,
        title: str,
        *,
        prompt: str,
        choices: Sequence[ChoiceDraft],
        points: int,
        body: str | None = None,
        hints: Sequence[str] = (),
        explanation: str | None = None,
        max_attempts: int | None = None,
    ) -> Self:
        """A single-choice question: exactly one of ``choices`` is :func:`right`."""
        extra = {
            "body": body,
            "hints": list(hints),
            "explanation": explanation,
            "max_attempts": max_attempts,
        }
        return self._choices("mcq", id, title, prompt, choices, points, extra)

    def multi(
        self,
        id: str,
        title: str,
        *,
        prompt: str,
        choices: Sequence[ChoiceDraft],
        points: int,
        body: str | None = None,
        hints: Sequence[str] = (),
        explanation: str | None = None,
        pass_threshold: int | None = None,
        max_attempts: int | None = None,
    ) -> Self:
        """A select-all-that-apply question, with partial credit."""
        extra = {
            "body": body, "hints": list(hints), "explanation": explanation,
            "pass_threshold": pass_threshold, "max_attempts": max_attempts,
        }  # fmt: skip
        return self._choices("multi", id, title, prompt, choices, points, extra)

    def true_false(
        self,
        id: str,
        title: str,
        *,
        prompt: str,
        answer: bool,
        points: int,
        body: str | None = None,
        hints: Sequence[str] = (),
        explanation: str | None = None,
        max_attempts: int | None = None,
    ) -> Self:
        """A statement the learner marks true or false."""
        return self._add(
            {"id": id, "type": "true_false", "title": title, "body": body, "prompt": prompt,
             "answer": answer, "points": points, "hints": list(hints),
             "explanation": explanation, "max_attempts": max_attempts}
        )  # fmt: skip

    def chat(
        self,
        id: str,
        title: str,
        *,
        prompt: str,
        rubric: Sequence[RubricDraft],
        reference_answer: str,
        passing: Sequence[str],
        failing: Sequence[str],
        points: int | None = None,
        body: str | None = None,
        hints: Sequence[str] = (),
        explanation: str | None = None,
        pass_threshold: int | None = None,
        max_attempts: int | None = None,
    ) -> Self:
        """A written answer graded against ``rubric``; ``passing`` and ``failing`` are labelled
        example answers the evaluator must agree with. ``points`` defaults to the rubric's sum."""
        items = [
            _drop_none({"id": r.id, "description": r.description, "points": r.points,
                        "concepts": list(r.concepts)})
            for r in rubric
        ]  # fmt: skip
        examples = [{"answer": a, "expect": "pass"} for a in passing]
        examples += [{"answer": a, "expect": "fail"} for a in failing]
        return self._add(
            {"id": id, "type": "chat", "title": title, "body": body, "prompt": prompt,
             "points": points if points is not None else sum(r.points for r in rubric),
             "pass_threshold": pass_threshold, "max_attempts": max_attempts, "rubric": items,
             "reference_answer": reference_answer, "examples": examples, "hints": list(hints),
             "explanation": explanation}
        )  # fmt: skip

    def build(self) -> ChallengeFile:
        """Validate like a challenge file; raise :class:`core.content.ChallengeLoadError` naming the
        step and the field of every problem."""
        raw = {**self._challenge, "steps": self._steps}
        text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
        return parse_challenge(text, source=f"builder {self._challenge['id']!r}")


class _Dumper(yaml.SafeDumper):
    pass


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.strip() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    first = {key: data[key] for key in _STEP_KEYS if key in data}
    return {**first, **{key: value for key, value in data.items() if key not in first}}


def challenge_yaml(challenge: ChallengeFile) -> str:
    """The challenge as a YAML file a person can read and edit (defaults left out)."""
    full = challenge.model_dump(mode="json")
    trimmed = challenge.model_dump(mode="json", exclude_defaults=True)
    data = {key: trimmed.get(key, full[key]) for key in full if key in trimmed or key in _ALWAYS}
    data["steps"] = [_ordered(step) for step in trimmed["steps"]]
    header = (
        f"# {challenge.title}\n"
        f"# Check it with: curiouscore author validate challenges/{challenge.id}.yaml\n"
    )
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def write_challenge(challenge: ChallengeFile, directory: Path, *, overwrite: bool = False) -> Path:
    """Write ``<directory>/<id>.yaml`` and load it back; refuse to replace a file unless asked."""
    path = directory / f"{challenge.id}.yaml"
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another id or allow overwriting")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(challenge_yaml(challenge), encoding="utf-8")
    load_challenge_file(path)
    return path
