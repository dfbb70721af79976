"""Turning YAML and pydantic errors into problems an author can act on.

Every problem is one line in one style: ``file:line: steps[2].choices[1].text: what is wrong, the
value found and the fix``. Lines come from the YAML node tree, so they point at the author's text.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from core.content.models import (
    ChallengeFile,
    ChatStep,
    Choice,
    CodeStep,
    CodeTest,
    Example,
    GateStep,
    LlmChoice,
    McqStep,
    MultiStep,
    Narrator,
    RubricItem,
    TrueFalseStep,
)

STEP_MODELS: dict[str, type[BaseModel]] = {
    "gate": GateStep,
    "mcq": McqStep,
    "multi": MultiStep,
    "true_false": TrueFalseStep,
    "chat": ChatStep,
    "code": CodeStep,
}
_NESTED: dict[str, type[BaseModel]] = {
    "choices": Choice,
    "rubric": RubricItem,
    "examples": Example,
    "narrator": Narrator,
    "llm": LlmChoice,
    "tests": CodeTest,
}
_YAML_BOOLEANS = {"yes", "no", "true", "false", "on", "off", "y", "n"}


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """One problem: where (line, column, the field path) and what, with the step id when known."""

    message: str
    field: str = ""
    line: int | None = None
    column: int | None = None
    step_id: str | None = None
    step_field: str | None = None

    def render(self, source: str) -> str:
        where = source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        location = self.field
        if self.step_id:
            location += f" (step {self.step_id!r})"
        return f"{where}: {location}: {self.message}" if location else f"{where}: {self.message}"


def yaml_problem(error: yaml.YAMLError) -> LoadProblem:
    """One problem for a YAML syntax error, pointing at its line and column."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is not None and mark.buffer:
        lines = mark.buffer.rstrip("\0").splitlines()
        if 0 <= mark.line < len(lines):
            message += f"\n    {lines[mark.line]}\n    {' ' * mark.column}^"
    if mark is None:
        return LoadProblem(message)
    return LoadProblem(message, line=mark.line + 1, column=mark.column + 1)


def describe(
    error: ValidationError, raw: dict[str, Any], root: yaml.Node | None
) -> list[LoadProblem]:
    """Every pydantic error as a :class:`LoadProblem` with line, field path, value and fix."""
    problems = []
    for detail in error.errors():
        loc = _without_tags(list(detail["loc"]), raw)
        message = str(detail["msg"]).removeprefix("Value error, ")
        if not _last_is_field(loc) and ": " in message and detail["type"] == "value_error":
            # a model validator names the field in its message ("choices: ...")
            name, message = message.split(": ", 1)
            loc = [*loc, name]
        if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = [*loc, "type"]
        step_id, step_field = _step_of(loc, raw)
        problems.append(
            LoadProblem(
                _friendly(detail, message, loc, raw, root),
                _path(loc),
                _line(root, loc),
                None,
                step_id,
                step_field,
            )
        )
    # in file order, so the first problem listed is the first one the author meets
    return sorted(problems, key=lambda p: p.line if p.line is not None else 1 << 30)


def _path(loc: list[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _last_is_field(loc: list[str | int]) -> bool:
    return bool(loc) and isinstance(loc[-1], str)


def _without_tags(loc: list[str | int], raw: dict[str, Any]) -> list[str | int]:
    """Drop the discriminator tag pydantic inserts after ``steps[i]``."""
    if len(loc) >= 3 and loc[0] == "steps" and isinstance(loc[1], int):
        step = _value_at(raw, loc[:2])
        if isinstance(step, dict) and loc[2] == step.get("type") and loc[2] in STEP_MODELS:
            return [*loc[:2], *loc[3:]]
    return loc


def _step_of(loc: list[str | int], raw: dict[str, Any]) -> tuple[str | None, str | None]:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step = _value_at(raw, loc[:2])
        step_id = step.get("id") if isinstance(step, dict) else None
        return (step_id if isinstance(step_id, str) else f"#{loc[1] + 1}"), _path(loc[2:]) or None
    return None, _path(loc) or None


def _value_at(raw: Any, loc: list[str | int]) -> Any:
    value = raw
    for part in loc:
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
            continue
        if not (isinstance(value, dict) and part in value):
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def _node_at(root: yaml.Node | None, loc: list[str | int]) -> tuple[yaml.Node | None, bool]:
    """The deepest node on ``loc`` and whether it is the node for the whole path."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if child is None:
                return node, False
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node, False
            node = node.value[part]
        else:
            return node, False
    return node, True


def _key_node(root: yaml.Node | None, loc: list[str | int]) -> yaml.Node | None:
    parent, whole = _node_at(root, loc[:-1])
    if whole and isinstance(parent, yaml.MappingNode) and loc and isinstance(loc[-1], str):
        return next((k for k, _ in parent.value if getattr(k, "value", None) == loc[-1]), None)
    return None


def _line(root: yaml.Node | None, loc: list[str | int]) -> int | None:
    node = _key_node(root, loc)
    if node is None:
        node, _ = _node_at(root, loc)
    return node.start_mark.line + 1 if node is not None else None


def _scalar_text(root: yaml.Node | None, loc: list[str | int]) -> str | None:
    node, whole = _node_at(root, loc)
    if whole and isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return None


def _model_at(loc: list[str | int], raw: dict[str, Any]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = ChallengeFile
    for index, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if part == "steps" and index == 0:
            step = _value_at(raw, loc[:2])
            kind = step.get("type") if isinstance(step, dict) else None
            model = STEP_MODELS.get(kind) if isinstance(kind, str) else None
        elif part in _NESTED:
            model = _NESTED[part]
    return model


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _friendly(
    detail: Any, message: str, loc: list[str | int], raw: dict[str, Any], root: yaml.Node | None
) -> str:
    kind = detail["type"]
    value = detail.get("input")
    written = _scalar_text(root, loc)
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        message = f"unknown key {key!r} (not part of the challenge format)"
        model = _model_at(loc[:-1], raw)
        if model is not None:
            close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
        return message
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        found = value.get("type") if isinstance(value, dict) else None
        got = f", got {_shown(found)}" if found is not None else " (the key is missing)"
        return f"must be one of gate, mcq, multi, true_false, chat, code{got}"
    if kind == "missing":
        return "required, but missing"
    if kind == "string_type":
        if isinstance(value, bool):
            shown = written or str(value).lower()
            return (
                f"expected text, got {shown} which YAML reads as the boolean {str(value).lower()}; "
                f'put it in quotes: "{shown}"'
            )
        if isinstance(value, dict):
            return (
                f"expected text, got a mapping {_shown(value)}: an unquoted ': ' inside text "
                "starts a key; put the whole text in quotes"
            )
        if isinstance(value, int | float):
            return f"expected text, got the number {written or value}; put it in quotes"
        return f"expected text, got {_shown(value)}"
    if kind == "bool_type":
        if isinstance(value, str) and value.lower() in _YAML_BOOLEANS | {"1", "0"}:
            return f"must be a boolean, got the text {value!r}; write true or false without quotes"
        return f"must be a boolean (true or false), got {_shown(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        if isinstance(value, str):
            return f"must be a whole number, got the text {value!r}; write it without quotes"
        return f"must be a whole number, got {_shown(value)}"
    if kind == "list_type":
        return f"must be a list (one '- item' per line, or [a, b]), got {_shown(value)}"
    if kind == "dict_type" or kind == "model_type" or kind == "model_attributes_type":
        return f"must be a mapping (key: value lines), got {_shown(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return (
            f"must be a slug (lower-case letters, digits and hyphens, e.g. python-lists), "
            f"got {_shown(value)}"
        )
    message = message.replace("Input should be", "should be").replace("List should", "should")
    if kind != "value_error" and value is not None and not isinstance(value, dict | list):
        message += f", got {_shown(value)}"
    return message
