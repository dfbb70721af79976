"""Loading challenge files: YAML in, validated models out, errors that say exactly what to fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.content.models import ChallengeFile
from core.errors import InvalidContent


class ChallengeLoadError(InvalidContent):
    """Every problem found in one file, each naming the file, the step id and the field."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


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
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ChallengeLoadError(source, [f"not valid YAML: {error}"]) from error
    if not isinstance(raw, dict):
        raise ChallengeLoadError(source, ["the file must be a mapping with id, title and steps"])
    try:
        challenge = ChallengeFile.model_validate(raw)
    except ValidationError as error:
        raise ChallengeLoadError(source, _describe(error, raw)) from error
    if expected_id is not None and challenge.id != expected_id:
        raise ChallengeLoadError(
            source,
            [f"field 'id': {challenge.id!r} does not match the file name {expected_id!r}"],
        )
    return challenge


def _describe(error: ValidationError, raw: dict[str, Any]) -> list[str]:
    problems = []
    for detail in error.errors():
        loc = list(detail["loc"])
        message = str(detail["msg"]).removeprefix("Value error, ")
        where = "challenge"
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            index = loc[1]
            steps = raw.get("steps")
            step = steps[index] if isinstance(steps, list) and index < len(steps) else None
            step_id = step.get("id") if isinstance(step, dict) else None
            where = f"step {step_id!r}" if step_id else f"step #{index + 1}"
            loc = loc[2:]
            if (
                step is not None
                and loc
                and loc[0] == (step.get("type") if isinstance(step, dict) else None)
            ):
                loc = loc[1:]  # the discriminator tag pydantic adds
        field = ".".join(str(part) for part in loc)
        if not field and ": " in message:
            field, message = message.split(": ", 1)
        if detail["type"] == "extra_forbidden":
            message = "unknown key (not part of the challenge format)"
        elif detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field, message = "type", "must be one of gate, mcq, multi, true_false, chat, code"
        problems.append(f"{where}: field {field or '(whole)'!r}: {message}")
    return problems


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
