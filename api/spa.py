"""The web SPA: ``index.html`` at ``/``, its files under ``/static/``, code styles at ``/highlight.css``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api.rendering import highlight_css

STATIC_DIR = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=1)
def _css() -> str:
    return highlight_css()


def mount_spa(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the SPA when its files are there (the API works without them)."""

    @app.get("/highlight.css", include_in_schema=False)
    async def code_styles() -> Response:
        return Response(
            _css(), media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    index = static_dir / "index.html"
    if not index.is_file():
        return

    # HEAD too: uptime probes and load balancers often check the front page that way.
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def spa_index() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=static_dir), name="static")
