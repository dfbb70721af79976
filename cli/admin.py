"""``curiouscore admin create|promote``: the only ways to make an admin."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from cli.common import DatabaseOption, console, err, run_with_services, settings_for
from core.bootstrap import Services
from core.errors import DomainError

admin_app = typer.Typer(
    help="Administrators: create one, or promote an account.", no_args_is_help=True
)


@admin_app.command("create")
def create(
    email: Annotated[str, typer.Option("--email", help="The admin's email (their login).")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "Admin",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create an admin account (prompts for the password unless --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(services: Services) -> str:
        account = await services.accounts.create_admin(email, password, name)
        return account.email

    created = _run(database_url, work)
    console.print(f"Admin account created for {created}.")


@admin_app.command("promote")
def promote(
    email: Annotated[str, typer.Argument(help="Email of an existing account.")],
    role: Annotated[str, typer.Option(help="learner, reviewer, author or admin.")] = "admin",
    database_url: DatabaseOption = None,
) -> None:
    """Give an existing account a role (admin by default); it applies from their next sign-in."""

    async def work(services: Services) -> str:
        account = await services.accounts.promote(email, role)
        return f"{account.email} is now {account.role}"

    console.print(_run(database_url, work) + ".")


def _run(database_url: str | None, work: Callable[[Services], Awaitable[str]]) -> str:
    try:
        return run_with_services(settings_for(database_url), work)
    except DomainError as error:
        err.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(1) from None
