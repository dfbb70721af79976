"""A readable preview of every step as the learner will see it, with the author's notes below.

The preview is Markdown (Jupyter renders it, as the web app renders step bodies): narration, body,
prompt and choices first, as the learner meets them; then what only the author sees: which choices
are correct, the rubric with its concepts, hints, the explanation and the pass mark.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.content.models import (
    ChallengeFile,
    ChatStep,
    CodeStep,
    GateStep,
    McqStep,
    MultiStep,
    TrueFalseStep,
)
from core.engine import ChallengeSpec, StepKind, StepSpec

KIND_LABEL = {
    StepKind.GATE: "gate (Continue)",
    StepKind.MCQ: "single choice",
    StepKind.MULTI: "multiple choice (select all that apply)",
    StepKind.TRUE_FALSE: "true or false",
    StepKind.CHAT: "written answer",
    StepKind.CODE: "code (runs against tests)",
}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


@dataclass(frozen=True, slots=True)
class StepPreview:
    index: int
    total: int
    step: StepSpec
    source: GateStep | McqStep | MultiStep | TrueFalseStep | ChatStep | CodeStep

    def _learner(self) -> list[str]:
        step = self.step
        scoring = f" · {step.points} points" if step.kind is not StepKind.GATE else ""
        lines = [f"### Step {self.index + 1} of {self.total}: {step.title}", ""]
        lines += [f"*`{step.id}` · {KIND_LABEL[step.kind]}{scoring}*", ""]
        if step.narrate:
            narration = step.narration or "(the Game Master narrates this step)"
            lines += [_quote(f"*Game Master:* {narration}"), ""]
        if step.body:
            lines += [step.body.strip(), ""]
        if step.prompt:
            lines += [f"**{step.prompt.strip()}**", ""]
        if step.kind in (StepKind.MCQ, StepKind.MULTI):
            box = "☐" if step.kind is StepKind.MULTI else "○"
            lines += [f"{box} {i + 1}. {c.text}  " for i, c in enumerate(step.choices)] + [""]
        elif step.kind is StepKind.TRUE_FALSE:
            lines += ["○ True  ", "○ False", ""]
        elif step.kind is StepKind.CHAT:
            lines += ["*The learner writes an answer (1–5,000 characters).*", ""]
        elif step.kind is StepKind.CODE and step.code is not None:
            lines += [f"```{step.code.language}", step.code.starter or "", "```", ""]
        return lines

    def _author(self) -> list[str]:
        step, source = self.step, self.source
        if step.kind is StepKind.GATE:
            return []
        lines = [
            "<details open><summary>Author's view</summary>",
            "",
            f"Pass mark {step.pass_threshold}% · {step.max_attempts} attempts · "
            f"{len(step.hints)} authored hints + {step.max_llm_hints} generated, "
            f"each costing {step.hint_cost}%",
            "",
        ]
        if isinstance(source, McqStep | MultiStep):
            lines += ["| # | choice | correct | feedback |", "|---|---|---|---|"]
            lines += [
                f"| {i + 1} | {_cell(c.text)} | {'✓' if c.correct else ''} | {_cell(c.feedback or '')} |"
                for i, c in enumerate(source.choices)
            ]
            lines.append("")
        elif isinstance(source, TrueFalseStep):
            lines += [f"Answer: **{source.answer}**", ""]
        elif isinstance(source, ChatStep):
            lines += ["| rubric item | points | description | concepts |", "|---|---|---|---|"]
            lines += [
                f"| `{r.id}` | {r.points} | {_cell(r.description)} | {_cell(', '.join(r.concepts))} |"
                for r in source.rubric
            ]
            lines.append("")
            if source.reference_answer:
                lines += ["Reference answer:", "", _quote(source.reference_answer), ""]
            passes = sum(e.expect == "pass" for e in source.examples)
            lines += [
                f"{len(source.examples)} examples ({passes} pass, {len(source.examples) - passes} fail)",
                "",
            ]
        elif isinstance(source, CodeStep):
            lines += ["| test | points | hidden |", "|---|---|---|"]
            lines += [
                f"| `{t.id}` | {t.points} | {'yes' if t.hidden else ''} |" for t in source.tests
            ]
            lines += ["", "Solution:", "", f"```{source.language}", source.solution, "```", ""]
        if step.hints:
            lines += ["Hints:", ""] + [f"{i + 1}. {h}" for i, h in enumerate(step.hints)] + [""]
        if step.explanation:
            lines += ["Explanation:", "", _quote(step.explanation), ""]
        return [*lines, "</details>", ""]

    def markdown(self) -> str:
        return "\n".join(self._learner() + self._author())

    def _repr_markdown_(self) -> str:
        return self.markdown()


@dataclass(frozen=True, slots=True, repr=False)
class ChallengePreview:
    """The whole challenge: its card, then every step (learner's view, then the author's)."""

    challenge: ChallengeFile
    spec: ChallengeSpec

    @property
    def steps(self) -> tuple[StepPreview, ...]:
        total = len(self.spec.steps)
        return tuple(
            StepPreview(i, total, step, source)
            for i, (step, source) in enumerate(
                zip(self.spec.steps, self.challenge.steps, strict=True)
            )
        )

    def __repr__(self) -> str:
        return f"<preview of {self.challenge.id!r}: {len(self.challenge.steps)} steps>"

    def markdown(self) -> str:
        c = self.challenge
        card = [
            f"## {c.title}",
            "",
            f"*{c.difficulty} · about {c.estimated_minutes} minutes · {c.xp} XP · "
            f"pass with {c.passing_score}% of {self.spec.max_score} points · "
            f"tags: {', '.join(c.tags) or 'none'}*",
            "",
            c.summary,
            "",
            "---",
            "",
        ]
        return "\n".join(card) + "\n---\n\n".join(step.markdown() for step in self.steps)

    def _repr_markdown_(self) -> str:
        return self.markdown()


def preview(challenge: ChallengeFile, spec: ChallengeSpec) -> ChallengePreview:
    """Return the preview of ``challenge`` (``spec`` is its engine view, defaults resolved)."""
    return ChallengePreview(challenge, spec)
