"""One validation of one challenge file, step by step, as ``notebooks/author.ipynb`` runs it.

Each check records its findings instead of stopping, so an author sees every problem in one run;
``raise_if_failed`` then raises one :class:`AuthoringFailed` listing every failure with its step id.
Re-running a check (a notebook cell) replaces its findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from core.authoring.code_checks import CodeReport, check_code_steps
from core.authoring.evaluators import EvaluatorChoice, choose_evaluator
from core.authoring.findings import AuthoringFailed, Finding, Severity
from core.authoring.grading import ExampleGrades, grade_examples
from core.authoring.lint import lint_challenge
from core.authoring.paths import PathCheck, check_correct_path, check_wrong_path
from core.authoring.plots import ScorePlot, plot_example_scores
from core.authoring.preview import ChallengePreview, preview
from core.authoring.render import BAD, WARN, badge, html_table
from core.content import ChallengeFile, ChallengeLoadError, load_challenge_file, to_spec
from core.engine import ChallengeSpec

SUMMARY_MIMETYPE = "application/vnd.curiouscore.authoring+json"
REQUIRED_CHECKS = ("all-correct path", "all-wrong path", "examples", "lint")


def load_findings(error: ChallengeLoadError) -> list[Finding]:
    """The loader's problems as findings, each naming its step, field and line."""
    return [
        Finding("load", Severity.ERROR, issue.message, issue.step_id, issue.step_field, issue.line)
        for issue in error.issues
    ]


@dataclass(frozen=True, slots=True, repr=False)
class LintReport:
    findings: tuple[Finding, ...]

    def __repr__(self) -> str:
        return f"<{len(self.findings)} authoring-rule findings>"

    def _repr_html_(self) -> str:
        if not self.findings:
            return f"<p>{badge(True, yes='No authoring-rule findings.')}</p>"
        colour = {Severity.ERROR: BAD, Severity.WARNING: WARN, Severity.NOTE: None}
        rows = [
            [f.severity.value, f.step_id or "(challenge)", f.field or "", f.message]
            for f in self.findings
        ]
        return html_table(
            ["severity", "step", "field", "finding"],
            rows,
            colours=[colour[f.severity] for f in self.findings],
        )


@dataclass(frozen=True, slots=True)
class ValidationSummary:
    """Every finding of a run, what fails it, and a machine-readable copy for the CLI's report."""

    challenge_id: str
    path: str
    strict: bool
    evaluator: str
    findings: tuple[Finding, ...]

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fails(strict=self.strict))

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge_id,
            "path": self.path,
            "passed": self.passed,
            "strict": self.strict,
            "evaluator": self.evaluator,
            "failures": [f.to_dict() for f in self.failures],
            "findings": [f.to_dict() for f in self.findings],
        }

    def markdown(self) -> str:
        count = len(self.failures)
        verdict = "passed" if self.passed else f"FAILED {count} check{'s' if count != 1 else ''}"
        lines = [f"### {self.challenge_id}: **{verdict}**", ""]
        mode = "strict: warnings fail" if self.strict else "lenient: only errors fail"
        lines += [f"*Evaluator {self.evaluator}; {mode}.*", ""]
        for f in self.findings:
            label = "**fails**" if f.fails(strict=self.strict) else f.severity.value
            lines.append(f"- {label}: {escape(str(f))}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, Any]:
        return {
            "text/plain": self.markdown(),
            "text/markdown": self.markdown(),
            SUMMARY_MIMETYPE: self.to_dict(),
        }

    def raise_if_failed(self) -> None:
        if self.failures:
            raise AuthoringFailed(self.challenge_id, self.failures)


@dataclass(slots=True)
class AuthoringCheck:
    """The state of one notebook run: the loaded challenge, the evaluator and each check's findings."""

    path: Path
    challenge: ChallengeFile
    spec: ChallengeSpec
    choice: EvaluatorChoice
    strict: bool = True
    results: dict[str, tuple[Finding, ...]] = field(default_factory=dict)
    _grades: ExampleGrades | None = None

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        provider: str = "offline",
        model: str | None = None,
        strict: bool = True,
    ) -> AuthoringCheck:
        """Load and validate ``path``; raise :class:`AuthoringFailed` listing every load problem."""
        path = Path(path)
        try:
            challenge = load_challenge_file(path)
        except ChallengeLoadError as error:
            raise AuthoringFailed(f"{path.stem} ({path})", load_findings(error)) from None
        return cls.of(challenge, path=path, provider=provider, model=model, strict=strict)

    @classmethod
    def of(
        cls,
        challenge: ChallengeFile,
        *,
        path: Path | None = None,
        provider: str = "offline",
        model: str | None = None,
        strict: bool = True,
    ) -> AuthoringCheck:
        """Start checking an already validated ``challenge`` (e.g. one made with the builder)."""
        path = path or Path(f"{challenge.id}.yaml")
        check = cls(path, challenge, to_spec(challenge), choose_evaluator(provider, model), strict)
        if check.choice.problem:
            message = f"{check.choice.problem}; the examples were graded offline instead"
            check.results["evaluator"] = (
                Finding("evaluator", Severity.WARNING, message, None, "provider"),
            )
        return check

    @property
    def evaluator_name(self) -> str:
        return self.choice.evaluator.name

    def preview(self) -> ChallengePreview:
        return preview(self.challenge, self.spec)

    def play_correct_path(self) -> PathCheck:
        result = check_correct_path(self.challenge, self.spec, self.choice.evaluator)
        self.results[result.name] = result.findings
        return result

    def play_wrong_path(self) -> PathCheck:
        result = check_wrong_path(self.challenge, self.spec, self.choice.evaluator)
        self.results[result.name] = result.findings
        return result

    def grade_examples(self) -> ExampleGrades:
        grades = grade_examples(self.challenge, self.spec, self.choice.evaluator)
        self.results["examples"] = tuple(grades.findings())
        self._grades = grades
        return grades

    def plot_example_scores(self) -> ScorePlot:
        grades = self._grades if self._grades is not None else self.grade_examples()
        return plot_example_scores(grades)

    def run_code(self) -> CodeReport:
        """Run every code step's solution, starter and examples in the sandbox."""
        report = check_code_steps(self.challenge, self.spec)
        self.results["code"] = report.findings
        return report

    def lint(self) -> LintReport:
        findings = tuple(lint_challenge(self.challenge))
        self.results["lint"] = findings
        return LintReport(findings)

    def summary(self) -> ValidationSummary:
        findings = [f for name in self.results for f in self.results[name]]
        skipped = [name for name in REQUIRED_CHECKS if name not in self.results]
        if skipped:
            message = f"the notebook did not run these checks: {', '.join(skipped)}"
            findings.append(Finding("notebook", Severity.ERROR, message))
        order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}
        findings.sort(key=lambda f: order[f.severity])
        return ValidationSummary(
            self.challenge.id, str(self.path), self.strict, self.evaluator_name, tuple(findings)
        )

    def raise_if_failed(self) -> None:
        """Raise one :class:`AuthoringFailed` listing every failure, so papermill fails the run."""
        try:
            self.summary().raise_if_failed()
        finally:
            self.choice.evaluator.close()
