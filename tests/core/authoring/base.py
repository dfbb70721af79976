"""A small, valid challenge as plain data; tests copy it and break one thing at a time."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from core.content import ChallengeFile

BASE: dict[str, Any] = {
    "id": "lists",
    "title": "Lists",
    "estimated_minutes": 10,
    "steps": [
        {"id": "welcome", "type": "gate", "title": "Welcome", "body": "Lists hold values."},
        {
            "id": "first",
            "type": "mcq",
            "title": "Indexing",
            "prompt": "What is `[1, 2][0]`?",
            "choices": [
                {"text": "1", "correct": True},
                {"text": "2", "feedback": "Indexes start at 0."},
                {"text": "An error"},
            ],
            "points": 10,
            "explanation": "Index 0 is the first item.",
        },
        {
            "id": "changes",
            "type": "multi",
            "title": "In place",
            "prompt": "Which change the list itself?",
            "choices": [
                {"text": "xs.append(1)", "correct": True},
                {"text": "sorted(xs)"},
                {"text": "xs.sort()", "correct": True},
            ],
            "points": 10,
            "explanation": "append and sort modify the list.",
        },
        {
            "id": "append-returns",
            "type": "true_false",
            "title": "append",
            "prompt": "append returns the new list.",
            "answer": False,
            "points": 10,
            "explanation": "It returns None.",
        },
        {
            "id": "tuple",
            "type": "chat",
            "title": "Tuples",
            "prompt": "When would you choose a tuple over a list?",
            "points": 20,
            "rubric": [
                {
                    "id": "immutable",
                    "description": "Says a tuple cannot change.",
                    "points": 10,
                    "concepts": ["immutable", "cannot be changed"],
                },
                {
                    "id": "use",
                    "description": "Names a use such as a dictionary key.",
                    "points": 10,
                    "concepts": ["dictionary key", "coordinates"],
                },
            ],
            "reference_answer": "When values must not change: tuples are immutable, e.g. coordinates.",
            "examples": [
                {
                    "answer": "Tuples are immutable, so use them as a dictionary key.",
                    "expect": "pass",
                },
                {"answer": "Tuples are faster.", "expect": "fail"},
            ],
            "explanation": "Tuples are immutable.",
        },
    ],
}


def make_challenge(edit: Callable[[dict[str, Any]], None] | None = None) -> ChallengeFile:
    """The base challenge after ``edit(data)`` changed a deep copy of it."""
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data)
    return ChallengeFile.model_validate(data)


def step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["id"] == step_id)
