"""A new challenge to start from: a gate and one step of every type, with TODO text.

The scaffold is a working challenge, not a sketch: it loads, its all-correct path passes, its
all-wrong path fails and the offline evaluator agrees with its examples, so an author can change it
one field at a time and re-validate after each change. Its TODO markers show up as notes.
"""

from __future__ import annotations

from pathlib import Path

from core.authoring.builder import ChallengeBuilder, criterion, right, wrong
from core.content import ChallengeFile


def scaffold_challenge(challenge_id: str, title: str | None = None) -> ChallengeFile:
    """Return a valid, playable challenge ``challenge_id`` full of TODO text to replace."""
    title = title or challenge_id.replace("-", " ").capitalize()
    return (
        ChallengeBuilder(
            challenge_id,
            title,
            summary="TODO: one sentence on what the learner will be able to do afterwards.",
            tags=["todo"],
            estimated_minutes=12,
            xp=100,
            passing_score=70,
        )
        .gate(
            "welcome",
            "Welcome",
            body="TODO: introduce the topic in Markdown. Code blocks, **bold** and lists all work.",
            prompt="Press Continue to start.",
            narration="TODO: what the Game Master says as the learner arrives.",
        )
        .mcq(
            "pick-one",
            "TODO: single-choice title",
            prompt="TODO: ask a question with exactly one right answer.",
            choices=[
                right("TODO: the right answer", feedback="TODO: why it is right."),
                wrong("TODO: a plausible wrong answer", feedback="TODO: why it is wrong."),
                wrong("TODO: another plausible wrong answer", feedback="TODO: why it is wrong."),
            ],
            points=10,
            hints=["TODO: a Socratic nudge that does not give the answer away."],
            explanation="TODO: shown when the step closes, right or wrong.",
        )
        .multi(
            "pick-several",
            "TODO: multiple-choice title",
            prompt="TODO: ask a question where several answers are right. Select all that apply.",
            choices=[
                right("TODO: a right answer"),
                wrong("TODO: a wrong answer", feedback="TODO: why it is wrong."),
                right("TODO: another right answer"),
                wrong("TODO: another wrong answer", feedback="TODO: why it is wrong."),
            ],
            points=10,
            hints=["TODO: a nudge."],
            explanation="TODO: which answers were right, and why.",
        )
        .true_false(
            "true-or-false",
            "TODO: true/false title",
            prompt="TODO: a statement that is clearly true or false.",
            answer=False,
            points=10,
            hints=["TODO: a nudge."],
            explanation="TODO: why the statement is false.",
        )
        .chat(
            "explain",
            "TODO: written-answer title",
            prompt="TODO: ask the learner to explain something in 1–3 sentences.",
            rubric=[
                criterion(
                    "first-idea",
                    "TODO: the first idea a good answer contains.",
                    10,
                    concepts=["first idea", "TODO: words that show the first idea"],
                ),
                criterion(
                    "second-idea",
                    "TODO: the second idea a good answer contains.",
                    10,
                    concepts=["second idea", "TODO: words that show the second idea"],
                ),
            ],
            reference_answer="TODO: a model answer that covers the first idea and the second idea.",
            passing=["An answer that names the first idea and the second idea."],
            failing=["An answer that misses the point entirely."],
            hints=["TODO: a nudge towards what is missing."],
            explanation="TODO: the model answer, explained.",
        )
        .gate(
            "wrap-up",
            "Well done",
            body="TODO: recap what the learner practised.",
            prompt="Press Continue to finish.",
        )
        .build()
    )


def repository_root() -> Path:
    """The checkout this package runs from (the folder holding ``challenges/`` and ``notebooks/``)."""
    return Path(__file__).resolve().parents[2]


def resolve_in_repository(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the repository root, so a notebook writes
    to the same place whether papermill runs it from the repository root or from ``notebooks/``."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else repository_root() / path
