"""``curiouscore author``: scaffold, validate (papermill) and grade challenges."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.author_examples import examples_app
from core.authoring.evaluators import PROVIDERS, choose_evaluator
from core.authoring.grading import GradeResult, grade_answer
from core.content import ChallengeLoadError, discover, load_challenge_file, to_spec
from core.errors import DomainError

author_app = typer.Typer(
    help="Authoring: scaffold, validate and grade challenges; item analysis after release.",
    no_args_is_help=True,
)
author_app.add_typer(examples_app, name="examples")
console = Console()
err = Console(stderr=True)
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")

ProviderOption = Annotated[
    str, typer.Option("--provider", help=f"Evaluator for chat answers: {', '.join(PROVIDERS)}.")
]
ModelOption = Annotated[str | None, typer.Option("--model", help="The provider's model.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _parse_parameter(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise _fail(f"--parameter takes NAME=VALUE, not {text!r}")
    return name.strip(), yaml.safe_load(value) if value.strip() else ""


@author_app.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Challenge files or folders (default: challenges/).")
    ] = None,
    provider: ProviderOption = "offline",
    model: ModelOption = None,
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Where executed notebooks and HTML reports go.")
    ] = Path("reports/authoring"),
    strict: Annotated[
        bool, typer.Option("--strict/--lenient", help="Whether warnings fail validation.")
    ] = True,
    kernel: Annotated[str, typer.Option(help="Jupyter kernel to run the notebook in.")] = "python3",
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parallel notebooks (default: one per core).")
    ] = None,
    fresh_kernels: Annotated[
        bool, typer.Option("--fresh-kernels", help="A new kernel per challenge (slower).")
    ] = False,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", "-p", help="Extra notebook parameter NAME=VALUE (YAML value)."),
    ] = None,
) -> None:
    """Run notebooks/author.ipynb through papermill for each challenge and keep the reports."""
    from core.authoring.kernels import KernelUnavailable
    from core.authoring.parameters import ParameterError
    from core.authoring.runner import ChallengeRun, RunOptions, validate_challenges

    targets = discover(paths or [Path("challenges")])
    options = RunOptions(
        provider=provider,
        model=model,
        strict=strict,
        report_dir=report_dir,
        kernel=kernel,
        workers=workers,
        reuse_kernel=not fresh_kernels,
        extra_parameters=dict(_parse_parameter(p) for p in parameter or []),
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("Validating challenges", total=len(targets))

        def done(run: ChallengeRun) -> None:
            progress.advance(task)
            progress.update(task, description=f"Validated {run.challenge_id}")

        try:
            runs = validate_challenges(targets, options, on_done=done)
        except (ParameterError, KernelUnavailable) as error:
            raise _fail(error.message) from None
    # ids and report paths are never cut: the table holds the short columns, the paths follow it
    table = Table("challenge", "result", "problems", "warnings", "seconds")
    table.columns[0].no_wrap = True
    table.columns[0].min_width = max(len(run.challenge_id) for run in runs)
    for run in runs:
        result = "[green]passed[/green]" if run.passed else "[red]FAILED[/red]"
        table.add_row(
            escape(run.challenge_id),
            result,
            str(len(run.problems)),
            str(run.warnings),
            f"{run.seconds:.1f}",
        )
    console.print(table)
    for run in runs:
        report = str(run.html or run.notebook or "-")
        console.print(f"{run.challenge_id} report: {report}", markup=False, soft_wrap=True)
    for run in runs:
        failing = set(run.problems)
        for finding in run.findings:
            if str(finding) not in failing and finding.severity.value != "error":
                err.print(
                    f"{run.challenge_id}: {finding.severity.value}: {finding}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
    failed = [run for run in runs if not run.passed]
    for run in failed:
        for problem in run.problems:
            err.print(
                f"{run.challenge_id}: {problem}", markup=False, highlight=False, soft_wrap=True
            )
    if failed:
        names = ", ".join(run.challenge_id for run in failed)
        err.print(f"{len(failed)} of {len(runs)} challenges failed: {names}", style="red")
        raise typer.Exit(1)
    console.print(f"All {len(runs)} challenges passed. Reports: {report_dir}", highlight=False)


@author_app.command()
def new(
    challenge_id: Annotated[str, typer.Argument(help="The new challenge's id, e.g. python-lists.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to write it.")] = Path(
        "challenges"
    ),
    title: Annotated[str | None, typer.Option(help="The title (default: from the id).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Write <dir>/<id>.yaml: a gate and one step of every type, with TODO text to replace."""
    from core.authoring.builder import write_challenge
    from core.authoring.scaffold import scaffold_challenge

    if not SLUG.match(challenge_id) or len(challenge_id) > 64:
        raise _fail(
            f"{challenge_id!r} is not a valid id: use lower-case letters, digits and hyphens, "
            "e.g. python-lists"
        )
    try:
        path = write_challenge(scaffold_challenge(challenge_id, title), directory, overwrite=force)
    except FileExistsError as error:
        raise _fail(f"{error} (use --force to replace it)") from None
    console.print(f"Wrote {path}", highlight=False)
    console.print(
        "Next: replace every TODO, then check it with\n"
        f"  curiouscore author validate {path}\n"
        f"and try one answer with\n"
        f'  curiouscore author grade {path} explain "your answer"',
        highlight=False,
    )


@author_app.command()
def grade(
    file: Annotated[Path, typer.Argument(help="The challenge file.")],
    step: Annotated[str, typer.Argument(help="The chat step's id.")],
    answer: Annotated[str, typer.Argument(help="The answer to grade.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    provider: ProviderOption = "offline",
    model: ModelOption = None,
) -> None:
    """Grade one answer to a chat step, as a session would: per-item points, feedback, rationale."""
    try:
        challenge = load_challenge_file(file)
    except ChallengeLoadError as error:
        raise _fail(str(error)) from None
    choice = choose_evaluator(provider, model)
    if choice.problem:
        raise _fail(choice.problem)
    try:
        result = grade_answer(to_spec(challenge), step, answer, choice.evaluator)
    except DomainError as error:
        raise _fail(error.message) from None
    finally:
        choice.evaluator.close()
    if as_json:
        typer.echo(json.dumps({"challenge": challenge.id, **result.to_dict()}, indent=2))
        return
    _print_grade(result)


def _print_grade(result: GradeResult) -> None:
    verdict = "[green]PASSED[/green]" if result.passed else "[red]FAILED[/red]"
    console.print(
        f"{escape(result.step_id)}: {verdict} {result.score:g}/{result.max_score} "
        f"(pass mark {result.pass_threshold}%; grader {escape(result.grader)})"
    )
    table = Table("rubric item", "points", "feedback")
    for item in result.items:
        table.add_row(escape(item.id), f"{item.points:g}/{item.max_points}", escape(item.feedback))
    console.print(table)
    console.print(f"Feedback: {result.feedback}", markup=False, highlight=False)
    console.print(f"Rationale: {result.rationale}", markup=False, highlight=False)
    if result.flags or result.provisional:
        flags = [*result.flags, *(["provisional"] if result.provisional else [])]
        console.print(f"Flags: {', '.join(flags)}", markup=False, highlight=False, style="yellow")


@author_app.command()
def analyze(
    challenge: Annotated[str, typer.Argument(help="The challenge id, e.g. python-functions.")],
    report_dir: Annotated[
        Path, typer.Option("--report-dir", help="Where the executed notebook and HTML go.")
    ] = Path("reports/analysis"),
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Default: DATABASE_URL.")
    ] = None,
    kernel: Annotated[str, typer.Option(help="Jupyter kernel to run the notebook in.")] = "python3",
) -> None:
    """Item analysis from the event log: runs notebooks/item_analysis.ipynb through papermill,
    keeps it executed and as HTML, and prints the per-step figures."""
    import asyncio

    import nbformat
    import papermill

    from cli.common import settings_for
    from core.authoring.kernels import KernelUnavailable
    from core.authoring.notebook_run import execute_notebook, export_html
    from core.authoring.parameters import ParameterError
    from core.authoring.runner import default_notebook
    from core.bootstrap import build_services
    from core.service.item_analysis import ItemAnalysis, item_analysis

    settings = settings_for(database_url)

    async def figures() -> ItemAnalysis:
        services = await build_services(settings)
        try:
            return await item_analysis(
                services.store, challenge, lambda v: services.catalog.spec(challenge, v)
            )
        finally:
            await services.close()

    analysis = asyncio.run(figures())
    if not analysis.versions:
        raise _fail(f"no sessions of {challenge!r} in this database yet", 1)
    notebook = default_notebook().parent / "item_analysis.ipynb"
    report_dir.mkdir(parents=True, exist_ok=True)
    output = report_dir / f"{challenge}-analysis.ipynb"
    with err.status(f"Running {notebook.name} for {challenge}"):
        try:
            execute_notebook(
                notebook,
                output,
                {"challenge_id": challenge, "database_url": settings.database_url},
                kernel=kernel,
                cwd=Path.cwd(),  # a relative SQLite path means the same file to the kernel
            )
        except (ParameterError, KernelUnavailable) as error:
            raise _fail(error.message) from None
        except papermill.PapermillExecutionError as error:
            message = f"the notebook raised {error.ename}: {error.evalue} (see {output})"
            raise _fail(message, 1) from None
    html = export_html(nbformat.read(output, as_version=4), output.with_suffix(".html"))  # type: ignore[no-untyped-call]
    for version in analysis.versions:
        table = Table(
            "step", "kind", "reached", "difficulty", "discrimination", "attempts", "hints",
            "dropped", title=f"{challenge} v{version.version}: {version.sessions} sessions, "
            f"{version.completed} completed, {version.passed} passed",
        )  # fmt: skip
        for step in version.steps:
            table.add_row(
                escape(step.step_id),
                step.kind,
                str(step.reached),
                "–" if step.difficulty is None else f"{step.difficulty:.0%}",
                "–" if step.discrimination is None else f"{step.discrimination:+.2f}",
                "–" if step.median_attempts is None else f"{step.median_attempts:g}",
                "–" if step.median_hints is None else f"{step.median_hints:g}",
                str(step.dropped),
            )
        console.print(table)
    console.print(f"Report: {html}", markup=False, soft_wrap=True)
