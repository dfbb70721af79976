"""``curiouscore web export``: the SPA for a static host, with the API's URL and CSP baked in, and
the CORS the API answers it with. The browser test is tests/e2e/test_static_export.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.spa import STATIC_DIR
from api.static_export import ExportError, export_csp, export_spa, parse_api_url
from cli.main import app
from tests.api.conftest import client_for, make_services


def test_the_api_url_is_normalised_and_its_origin_kept_for_the_csp() -> None:
    api = parse_api_url(" https://API.example.com:8443/curious/ ")
    assert api.url == "https://api.example.com:8443/curious"
    assert api.origin == "https://api.example.com:8443"
    assert api.secure
    assert parse_api_url("http://127.0.0.1:8000").url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("api.example.com", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        ("ftp://api.example.com", "must start with https://"),
        ("https://", "plain host name"),
        ("https://user:pw@api.example.com", "plain host name"),
        ('https://api.example.com"><script>', "plain host name"),
        ("https://api.example.com/x?y=1", "query or a fragment"),
        ("https://api.example.com/#x", "query or a fragment"),
        ("https://api.example.com/a b", "path may only hold"),
        ("https://api.example.com:99999", "port is not valid"),
    ],
)
def test_a_bad_api_url_is_refused_saying_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ExportError, match=re.escape(complaint)):
        parse_api_url(url)


def test_the_export_has_the_spa_the_api_base_and_a_csp_naming_the_api(tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = export_spa(out, "https://api.example.com/")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<meta name="curiouscore-api-base" content="https://api.example.com">' in index
    meta_csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', index)
    assert meta_csp is not None
    policy = meta_csp.group(1).replace("&#x27;", "'")
    assert "connect-src 'self' https://api.example.com;" in policy
    assert "script-src 'self';" in policy
    assert "frame-ancestors" not in policy  # ignored (with a warning) in a <meta> CSP
    # Relative links: the export works at the root of a host or under a path prefix.
    assert 'src="static/js/main.js"' in index and 'href="highlight.css"' in index
    assert '"/static/' not in index
    for name in ("js/main.js", "js/api.js", "js/config.js", "css/base.css", "favicon.svg"):
        assert (out / "static" / name).read_bytes() == (STATIC_DIR / name).read_bytes(), name
    assert not (out / "static" / "index.html").exists()
    assert ".code" in (out / "highlight.css").read_text(encoding="utf-8")
    headers = (out / "_headers").read_text(encoding="utf-8")
    assert f"Content-Security-Policy: {result.csp}\n" in headers
    assert "frame-ancestors 'none'" in result.csp
    assert "Strict-Transport-Security" in headers
    assert result.files == sum(1 for p in out.rglob("*") if p.is_file())


def test_the_header_csp_differs_from_the_meta_one_only_by_header_only_directives() -> None:
    api = parse_api_url("https://api.example.com")
    header, meta = export_csp(api, meta=False), export_csp(api, meta=True)
    assert header == f"{meta}; frame-ancestors 'none'"


def test_a_folder_that_is_not_empty_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_spa(out, "https://api.example.com")
    export_spa(out, "https://one.example.com", overwrite=True)
    export_spa(out, "https://two.example.com", overwrite=True)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "https://two.example.com" in index and "https://one.example.com" not in index
    assert (out / "keep.txt").read_text() == "mine"


def test_the_cli_exports_and_explains_its_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(
        app, ["web", "export", str(tmp_path / "site"), "--api-url", "https://api.example.com"]
    )
    assert done.exit_code == 0, done.output
    assert "calling the API at https://api.example.com" in done.output
    assert "CORS_ORIGINS" in done.output
    assert (tmp_path / "site" / "index.html").is_file()
    bad = runner.invoke(app, ["web", "export", str(tmp_path / "other"), "--api-url", "nope"])
    assert bad.exit_code == 2
    assert "must start with https://" in bad.output
    assert "Traceback" not in bad.output
    assert not (tmp_path / "other").exists()


async def test_cors_lets_the_listed_origin_send_credentials() -> None:
    services = await make_services(cors_origins="https://app.example.com")
    try:
        async with client_for(services) as client:
            preflight = await client.options(
                "/api/auth/refresh",
                headers={
                    "Origin": "https://app.example.com",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type, x-refresh-cookie",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
            assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
            other = await client.options(
                "/api/auth/refresh",
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
            )
            assert "Access-Control-Allow-Origin" not in other.headers
            assert other.status_code == 400
    finally:
        await services.close()


async def test_a_wildcard_cors_origin_never_gets_credentials() -> None:
    services = await make_services(cors_origins="*")
    try:
        async with client_for(services) as client:
            response = await client.get(
                "/api/challenges",
                headers={"Origin": "https://anyone.example", "Cookie": "a=b"},
            )
            assert "Access-Control-Allow-Credentials" not in response.headers
            assert response.headers["Access-Control-Allow-Origin"] == "*"
    finally:
        await services.close()
