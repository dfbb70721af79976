"""``curiouscore web export``: the SPA as files for a static host, the API elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli.common import console, err

web_app = typer.Typer(help="The web app (SPA): export it for a static host.", no_args_is_help=True)


@web_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the SPA into.")],
    api_url: Annotated[
        str,
        typer.Option(
            "--api-url", help="The API's base URL as the browser reaches it (https://api.…)."
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Write over an earlier export in DIRECTORY.")
    ] = False,
) -> None:
    """Write the SPA into DIRECTORY with the API's base URL baked in (see docs/deploy.md)."""
    try:
        from api.static_export import ExportError, export_spa, is_loopback
    except ImportError as error:
        err.print(
            f"[red]error:[/red] the web extra is not installed ({error.name}); "
            "run: pip install -e '.[api]'",
            highlight=False,
        )
        raise typer.Exit(2) from None
    try:
        result = export_spa(directory, api_url, overwrite=force)
    except ExportError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(
        f"Wrote the SPA ({result.files} files) to {result.directory}, calling the API at "
        f"{result.api.url}.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if not result.api.secure and not is_loopback(result.api):
        err.print(
            "warning: the API URL is plain http; browsers block it from an https page and "
            "tokens would cross the network in clear text.",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"On the API set CORS_ORIGINS to this site's origin (e.g. CORS_ORIGINS=https://app.example.com); "
        f"the site's Content-Security-Policy allows connect-src {result.api.origin} "
        "(in index.html and in _headers).",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
