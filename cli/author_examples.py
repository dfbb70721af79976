"""``curiouscore author examples export``: reviewed answers as a challenge's ``examples:``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cli.common import DatabaseOption, run_with_services, settings_for
from core.bootstrap import Services
from core.errors import DomainError
from core.service.review_examples import examples_yaml, export_examples

examples_app = typer.Typer(
    help="Labelled examples from reviews: export reviewed answers for the challenge file.",
    no_args_is_help=True,
)
err = Console(stderr=True)


@examples_app.command("export")
def export(
    challenge: Annotated[str, typer.Argument(help="The challenge id, e.g. python-functions.")],
    step: Annotated[
        str | None, typer.Option("--step", help="Only this chat step (its examples: list).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most N answers per step, newest first.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write the reviewed answers of CHALLENGE as `examples:` entries (YAML, with `expect: pass`
    or `fail` from the reviewer), ready to paste into the challenge file. Answers the file already
    lists are left out; the latest review of an answer decides its label."""

    async def work(services: Services) -> str:
        found = await export_examples(
            services.store, services.catalog, challenge, step_id=step, limit=limit
        )
        if found.count == 0:
            err.print(f"No new reviewed answers of {challenge} yet.", highlight=False)
        return examples_yaml(found, one_step=step is not None)

    text = run_with_services(settings_for(database_url), work, expected=(DomainError,))
    typer.echo(text, nl=False)
