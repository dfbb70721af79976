"""Loading challenge files: YAML in, validated models out, errors that say exactly what to fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.content.models import ChallengeFile
from core.content.problems import LoadProblem, describe, yaml_problem
from core.errors import InvalidContent


class ChallengeLoadError(InvalidContent):
    """Every problem found in one file, one per line: ``file:line: field (step 'id'): message``."""

    def __init__(self, path: str, problems: list[str] | list[LoadProblem]) -> None:
        self.path = path
        self.issues = [p if isinstance(p, LoadProblem) else LoadProblem(p) for p in problems]
        self.problems = [issue.render(path) for issue in self.issues]
        super().__init__("\n".join(self.problems))


def load_challenge_file(path: str | Path) -> ChallengeFile:
    """Read and validate one challenge file; raise :class:`ChallengeLoadError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ChallengeLoadError(str(path), [f"cannot read the file: {error.strerror}"]) from error
    return parse_challenge(text, source=str(path), expected_id=path.stem)


def parse_challenge(text: str, *, source: str, expected_id: str | None = None) -> ChallengeFile:
    """Validate YAML ``text``; ``expected_id`` (the file name) must match the challenge id."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ChallengeLoadError(source, [yaml_problem(error)]) from error
    if not isinstance(raw, dict):
        raise ChallengeLoadError(
            source, ["the file must be a mapping with id, title and steps (key: value lines)"]
        )
    try:
        challenge = ChallengeFile.model_validate(raw)
    except ValidationError as error:
        raise ChallengeLoadError(source, describe(error, raw, root)) from error
    if expected_id is not None and challenge.id != expected_id:
        line = _id_line(root)
        message = f"{challenge.id!r} does not match the file name {expected_id!r}"
        raise ChallengeLoadError(source, [LoadProblem(message, "id", line, step_field="id")])
    return challenge


def _id_line(root: yaml.Node | None) -> int | None:
    if isinstance(root, yaml.MappingNode):
        for key, _ in root.value:
            if getattr(key, "value", None) == "id":
                return int(key.start_mark.line) + 1
    return None


def content_hash(challenge: ChallengeFile) -> str:
    """A stable hash of the validated content (formatting and comments do not change it)."""
    canonical = json.dumps(challenge.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def challenge_schema() -> dict[str, Any]:
    """The JSON Schema of the challenge format, generated from the same models."""
    schema = ChallengeFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://curiouscore.dev/schema/challenge.json"
    return schema


def discover(paths: list[Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, sorted; keep files as given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            found.append(path)
    return found
