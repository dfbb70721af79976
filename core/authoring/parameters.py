"""A notebook's papermill parameters, read from its ``parameters`` cell without starting a kernel.

Papermill only warns about a parameter the notebook does not declare, and injects a mistyped one
as is. Authoring runs refuse both up front, naming the parameter, what the notebook takes and what
type it expects.
"""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DomainError

_TYPES: dict[str, type] = {"str": str, "bool": bool, "int": int, "float": float}


class ParameterError(DomainError):
    """Parameters a notebook does not take, or of the wrong type; the message lists each one."""

    code = "bad_parameters"

    def __init__(self, notebook: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{notebook}: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class Parameter:
    """One declared parameter: its name, the types it accepts and its default."""

    name: str
    types: tuple[str, ...]
    default: Any

    def accepts(self, value: object) -> bool:
        if value is None:
            return "None" in self.types
        for name in self.types:
            expected = _TYPES.get(name)
            if expected is None:
                continue
            # bool is an int in Python; a flag and a number are different parameters.
            if isinstance(value, bool) and expected is not bool:
                continue
            if isinstance(value, expected) or (expected is float and type(value) is int):
                return True
        return False


def _type_names(annotation: ast.expr | None, default: Any) -> tuple[str, ...]:
    if annotation is None:
        return ("None",) if default is None else (type(default).__name__,)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _type_names(annotation.left, default) + _type_names(annotation.right, default)
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return ("None",)
    if (
        isinstance(annotation, ast.Subscript)
        and isinstance(annotation.value, ast.Name)
        and annotation.value.id == "Optional"
    ):
        return (*_type_names(annotation.slice, default), "None")
    if isinstance(annotation, ast.Name) and annotation.id in _TYPES:
        return (annotation.id,)
    raise ValueError(f"unsupported parameter annotation {ast.unparse(annotation)!r}")


def notebook_parameters(path: Path) -> dict[str, Parameter]:
    """Parse the cell tagged ``parameters`` of the notebook at ``path`` (JSON, no kernel)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            source = cell["source"]
            code = "".join(source) if isinstance(source, list) else source
            return _parse(code)
    raise ParameterError(str(path), ["the notebook has no cell tagged 'parameters'"])


def _parse(code: str) -> dict[str, Parameter]:
    found: dict[str, Parameter] = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            default = ast.literal_eval(node.value) if node.value is not None else None
            found[node.target.id] = Parameter(
                node.target.id, _type_names(node.annotation, default), default
            )
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                default = ast.literal_eval(node.value)
                found[target.id] = Parameter(target.id, _type_names(None, default), default)
    return found


def check_parameters(path: Path, given: Mapping[str, object]) -> dict[str, Parameter]:
    """Raise :class:`ParameterError` when ``given`` names a parameter the notebook does not
    declare or gives one a value of the wrong type; return the declared parameters otherwise."""
    declared = notebook_parameters(path)
    problems = []
    for name, value in given.items():
        parameter = declared.get(name)
        if parameter is None:
            close = difflib.get_close_matches(name, declared, n=1)
            suggestion = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"unknown parameter {name!r}{suggestion}; {path.name} takes {', '.join(declared)}"
            )
        elif not parameter.accepts(value):
            expected = " or ".join(parameter.types)
            problems.append(
                f"parameter {name!r} must be {expected}, not {type(value).__name__} {value!r}"
            )
    if problems:
        raise ParameterError(path.name, problems)
    return declared
