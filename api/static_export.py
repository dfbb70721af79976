"""The SPA as plain files for a static host, with the API's base URL baked in.

``curiouscore web export DIR --api-url URL`` calls :func:`export_spa`. The export is the same
files the API serves (``index.html``, ``static/``, ``highlight.css``); ``index.html`` gains a
``<meta name="curiouscore-api-base">`` that ``static/js/config.js`` reads, a Content-Security-Policy
whose ``connect-src`` names the API's origin, and relative asset links (so it works under a path
prefix too). ``_headers`` carries the full header set for hosts that read that file (Netlify,
Cloudflare Pages); docs/deploy.md shows the same for other hosts.
"""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from api.middleware import APP_CSP, SECURITY_HEADERS
from api.rendering import highlight_css
from api.spa import STATIC_DIR

API_BASE_META = "curiouscore-api-base"
HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$"
)
PATH = re.compile(r"^[A-Za-z0-9._~/-]*$")
# Directives a <meta> CSP may not carry (browsers ignore them there, with a console warning).
HEADER_ONLY_DIRECTIVES = ("frame-ancestors", "report-uri", "sandbox")


class ExportError(ValueError):
    """The export cannot be written as asked (a bad API URL, a target that is not empty)."""


@dataclass(frozen=True)
class ApiBase:
    """A validated API base URL: ``url`` without a trailing slash, ``origin`` for the CSP."""

    url: str
    origin: str
    secure: bool


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    api: ApiBase
    files: int
    csp: str


def parse_api_url(raw: str) -> ApiBase:
    """Check an ``--api-url`` and split it into what the export needs; :class:`ExportError` says
    what is wrong with it."""
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ExportError(f"the API URL must start with https:// (or http://), got {raw!r}")
    if not parts.netloc or "@" in parts.netloc or not HOST.match(parts.netloc):
        raise ExportError(f"the API URL needs a plain host name (and optional port), got {raw!r}")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ExportError(f"the API URL cannot have a query or a fragment, got {raw!r}")
    if not PATH.match(parts.path):
        raise ExportError(f"the API URL's path may only hold letters, digits and ._~/-: {raw!r}")
    try:
        port = parts.port
    except ValueError:
        raise ExportError(f"the API URL's port is not valid: {raw!r}") from None
    if port == 0:
        raise ExportError(f"the API URL's port is not valid: {raw!r}")
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    return ApiBase(
        url=origin + parts.path.rstrip("/"), origin=origin, secure=parts.scheme == "https"
    )


def is_loopback(api: ApiBase) -> bool:
    host = urlsplit(api.origin).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


def export_csp(api: ApiBase, *, meta: bool) -> str:
    """The app's Content-Security-Policy with the API's origin allowed for ``fetch``; for a
    ``<meta>`` element, without the directives only a header may carry."""
    directives = [d.strip() for d in APP_CSP.split(";") if d.strip()]
    out: list[str] = []
    for directive in directives:
        name = directive.split()[0]
        if meta and name in HEADER_ONLY_DIRECTIVES:
            continue
        out.append(f"{directive} {api.origin}" if name == "connect-src" else directive)
    return "; ".join(out)


def exported_index(index_html: str, api: ApiBase) -> str:
    """``index.html`` with the API base and the CSP as ``<meta>`` elements and relative links."""
    anchor = '<meta charset="utf-8">'
    if anchor not in index_html:
        raise ExportError("static/index.html has no <meta charset> to anchor the API base on")
    metas = (
        f'\n  <meta name="{API_BASE_META}" content="{html.escape(api.url, quote=True)}">'
        f'\n  <meta http-equiv="Content-Security-Policy" '
        f'content="{html.escape(export_csp(api, meta=True), quote=True)}">'
    )
    page = index_html.replace(anchor, anchor + metas, 1)
    for attribute in ("href", "src"):
        page = page.replace(f'{attribute}="/static/', f'{attribute}="static/')
        page = page.replace(f'{attribute}="/highlight.css"', f'{attribute}="highlight.css"')
    return page


def headers_file(api: ApiBase) -> str:
    """``_headers`` (Netlify, Cloudflare Pages): the API's security headers for every file."""
    lines = ["/*", f"  Content-Security-Policy: {export_csp(api, meta=False)}"]
    lines += [f"  {name}: {value}" for name, value in SECURITY_HEADERS]
    if api.secure:
        lines.append("  Strict-Transport-Security: max-age=31536000")
    for page in ("/", "/index.html"):
        lines += [page, "  Cache-Control: no-cache"]
    return "\n".join(lines) + "\n"


def export_spa(
    directory: Path, api_url: str, *, overwrite: bool = False, static_dir: Path = STATIC_DIR
) -> ExportResult:
    """Write the SPA into ``directory`` for a static host, calling the API at ``api_url``.

    Refuses a non-empty ``directory`` unless ``overwrite`` (then only what the export writes is
    replaced)."""
    api = parse_api_url(api_url)
    index = static_dir / "index.html"
    if not index.is_file():
        raise ExportError(f"the SPA's files are not installed here ({index} is missing)")
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise ExportError(f"{directory} is not empty (use --force to write over the export in it)")
    directory.mkdir(parents=True, exist_ok=True)
    target_static = directory / "static"
    if target_static.exists():
        shutil.rmtree(target_static)
    shutil.copytree(
        static_dir,
        target_static,
        ignore=shutil.ignore_patterns("index.html", "__pycache__", "*.py", "*.pyc"),
    )
    (directory / "index.html").write_text(
        exported_index(index.read_text(encoding="utf-8"), api), encoding="utf-8"
    )
    (directory / "highlight.css").write_text(highlight_css(), encoding="utf-8")
    (directory / "_headers").write_text(headers_file(api), encoding="utf-8")
    files = sum(1 for path in directory.rglob("*") if path.is_file())
    return ExportResult(directory, api, files, export_csp(api, meta=False))
