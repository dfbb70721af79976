"""Challenge content: the file format, loading with precise errors, and the published schema."""

from core.content.convert import spec_from_definition, to_spec
from core.content.loader import (
    ChallengeLoadError,
    challenge_schema,
    content_hash,
    discover,
    load_challenge_file,
    parse_challenge,
)
from core.content.models import ChallengeFile

__all__ = [
    "ChallengeFile",
    "ChallengeLoadError",
    "challenge_schema",
    "content_hash",
    "discover",
    "load_challenge_file",
    "parse_challenge",
    "spec_from_definition",
    "to_spec",
]
