"""Reviewed answers as a challenge's labelled examples (issue 14): what ``curiouscore author
examples export`` writes, ready to paste under a chat step's ``examples:``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import yaml

from core.engine.challenge import ChallengeSpec, StepKind
from core.errors import InvalidInput
from core.service.catalog import Catalog
from core.store.reviews import ReviewItem, ReviewStore

MAX_EXAMPLE = 5000  # a chat answer's limit, and the challenge file's for an example


@dataclass(frozen=True, slots=True)
class LabelledAnswer:
    """A reviewed answer: the reviewer's pass or fail is its label."""

    step_id: str
    answer: str
    expect: str  # "pass" | "fail"
    challenge_version: int
    reviewed_at: str


@dataclass(frozen=True, slots=True)
class ExampleExport:
    """Per chat step (in the challenge's order), the reviewed answers to add as examples."""

    challenge_id: str
    version: int
    steps: tuple[tuple[str, tuple[LabelledAnswer, ...]], ...]

    @property
    def count(self) -> int:
        return sum(len(answers) for _, answers in self.steps)


def _key(answer: str) -> str:
    return " ".join(answer.casefold().split())


def labelled_answers(
    reviewed: Sequence[ReviewItem],
    *,
    step_ids: Sequence[str],
    known: Mapping[str, Collection[str]] | None = None,
    limit: int | None = None,
) -> tuple[tuple[str, tuple[LabelledAnswer, ...]], ...]:
    """Given reviewed rows, return per step of ``step_ids`` its labelled answers, newest review
    first: one per distinct answer (the latest review decides its label), none the step already
    has among ``known`` examples, at most ``limit`` per step."""
    known_keys = {step: {_key(a) for a in answers} for step, answers in (known or {}).items()}
    newest = sorted(
        (r for r in reviewed if r.review is not None and r.reviewed_at is not None),
        key=lambda r: (r.reviewed_at or "", r.review_id),
        reverse=True,
    )
    result = []
    for step_id in step_ids:
        seen = set(known_keys.get(step_id, ()))
        answers: list[LabelledAnswer] = []
        for row in newest:
            key = _key(row.answer)
            if row.step_id != step_id or not key or key in seen or len(row.answer) > MAX_EXAMPLE:
                continue
            seen.add(key)
            passed = bool((row.review or {}).get("passed"))
            answers.append(
                LabelledAnswer(
                    step_id,
                    row.answer.strip(),
                    "pass" if passed else "fail",
                    row.challenge_version,
                    row.reviewed_at or "",
                )
            )
            if limit is not None and len(answers) >= limit:
                break
        result.append((step_id, tuple(answers)))
    return tuple(result)


async def export_examples(
    store: ReviewStore,
    catalog: Catalog,
    challenge_id: str,
    *,
    step_id: str | None = None,
    limit: int | None = None,
) -> ExampleExport:
    """The reviewed answers of ``challenge_id`` (or of one chat step) that its latest version does
    not already list as examples; raises ``ChallengeNotFound`` or ``InvalidInput`` by name."""
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit must be at least 1, not {limit}")
    spec = await catalog.latest_spec(challenge_id)
    chat = _chat_steps(spec)
    if step_id is not None and step_id not in chat:
        raise InvalidInput(
            f"{challenge_id!r} has no chat step {step_id!r}; its chat steps are "
            f"{', '.join(chat) or 'none'}"
        )
    steps = [step_id] if step_id is not None else list(chat)
    known = {s.id: (*s.pass_examples, *s.fail_examples) for s in spec.steps if s.id in chat}
    reviewed = await store.reviewed_items(challenge_id)
    return ExampleExport(
        challenge_id,
        spec.version,
        labelled_answers(reviewed, step_ids=steps, known=known, limit=limit),
    )


def examples_yaml(export: ExampleExport, *, one_step: bool = False) -> str:
    """YAML to paste into the challenge file: with ``one_step``, the step's ``examples:`` list;
    otherwise a ``steps:`` list naming each step by id, as in the file."""
    header = (
        f"# Reviewed answers of {export.challenge_id} (latest version {export.version}), labelled "
        "by reviewers.\n# Paste each list under its step's `examples:` in the challenge file, "
        "then run `curiouscore author validate`.\n"
    )

    def entries(answers: Sequence[LabelledAnswer]) -> list[dict[str, str]]:
        return [{"answer": a.answer, "expect": a.expect} for a in answers]

    if one_step:
        body: object = {"examples": entries(export.steps[0][1]) if export.steps else []}
    else:
        body = {
            "steps": [{"id": step, "examples": entries(answers)} for step, answers in export.steps]
        }
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def _chat_steps(spec: ChallengeSpec) -> list[str]:
    return [s.id for s in spec.steps if s.kind is StepKind.CHAT]
