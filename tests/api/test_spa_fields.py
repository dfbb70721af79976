"""The SPA reads exactly what the OpenAPI document says (issue 15, item 14).

``api/static/js/api_fields.js`` is generated from /openapi.json and must be up to date; every API
field a SPA module reads (a snake_case property: the SPA's own names are camelCase) must be defined
for the responses that module handles; and no module second-guesses a field (``a.x ?? a.y``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.openapi_fields import SPA_READS, TARGET, openapi_document, reachable, spa_module

JS = Path(TARGET).parent
SNAKE = re.compile(r"[\w$)\]]\??\.([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")
# ``a.x ?? a.y``, or ``a.x || a.y`` with an API field (snake_case) on either side
GUESS = re.compile(
    r"\b([A-Za-z_$][\w$]*)\.(\w+)\s*\?\?\s*\1\.\w+"
    r"|\b([A-Za-z_$][\w$]*)\.(\w*_\w*)\s*\|\|\s*\3\.\w+"
    r"|\b([A-Za-z_$][\w$]*)\.\w+\s*\|\|\s*\5\.\w*_\w*"
)
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi_document()


def _code(path: Path) -> str:
    return COMMENT.sub("", path.read_text(encoding="utf-8"))


def _fields(document: dict, names: set[str]) -> set[str]:
    schemas = document["components"]["schemas"]
    return {prop for name in names for prop in schemas[name].get("properties", {})}


def _modules() -> list[Path]:
    return sorted(p for p in JS.rglob("*.js") if p != TARGET)


def test_api_fields_js_is_generated_from_the_current_openapi_document(document: dict) -> None:
    assert TARGET.read_text(encoding="utf-8") == spa_module(document), (
        "api/static/js/api_fields.js is stale: run `python -m api.openapi_fields`"
    )


def test_every_mapped_module_exists() -> None:
    assert all((JS / name).is_file() for name in SPA_READS), set(SPA_READS)


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(JS)))
def test_a_module_reads_only_fields_defined_for_its_responses(document: dict, module: Path) -> None:
    name = str(module.relative_to(JS))
    operations = SPA_READS.get(name)
    # A module not mapped (another helper's, or one that reads no API data) is held to the
    # whole document; a mapped one to the schemas of the operations it handles.
    schemas = (
        reachable(document, operations)
        if operations is not None
        else set(document["components"]["schemas"])
    )
    read = set(SNAKE.findall(_code(module)))
    unknown = read - _fields(document, schemas)
    assert not unknown, f"{name} reads fields its responses do not define: {sorted(unknown)}"


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(JS)))
def test_no_module_second_guesses_a_field(module: Path) -> None:
    guesses = [m.group(0) for m in GUESS.finditer(_code(module))]
    assert not guesses, f"{module.name} tries one field, then another: {guesses}"


def test_the_check_catches_a_field_the_response_lacks(document: dict) -> None:
    """The checker itself: a read of an undefined field, and a guess, are found."""
    code = "const x = c.xp ?? c.xp_granted; view.step.answer_max_chars; view.step.max_chars_guess;"
    schemas = reachable(document, SPA_READS["views/profile.js"])
    assert set(SNAKE.findall(code)) - _fields(document, schemas) == {
        "xp_granted",
        "answer_max_chars",
        "max_chars_guess",
    }
    assert GUESS.search(code) is not None
