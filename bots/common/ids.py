"""Component ids that carry session, step and action, so buttons keep working after a restart.

Format: ``cc:<session>:<step>:<action>[:<arg>]``. A UUID session id is packed into 22 base64url
characters so that the whole id fits Discord's 100-character limit with a 64-character step id.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

PREFIX = "cc"
MAX_LENGTH = 100
ACTIONS = {"c": "continue", "a": "answer", "t": "toggle", "s": "submit", "h": "hint", "m": "modal"}
CODES = {name: code for code, name in ACTIONS.items()}


@dataclass(frozen=True, slots=True)
class ComponentId:
    session_id: str
    step_id: str
    action: str
    arg: str = ""


def _pack(session_id: str) -> str:
    try:
        return "~" + base64.urlsafe_b64encode(uuid.UUID(session_id).bytes).decode().rstrip("=")
    except ValueError:
        return session_id


def _unpack(packed: str) -> str:
    if packed.startswith("~"):
        return str(uuid.UUID(bytes=base64.urlsafe_b64decode(packed[1:] + "==")))
    return packed


def encode(component: ComponentId) -> str:
    """Return the custom/action id for ``component``; raises ValueError if it cannot fit."""
    parts = [PREFIX, _pack(component.session_id), component.step_id, CODES[component.action]]
    if component.arg:
        parts.append(component.arg)
    if any(":" in part for part in parts[1:]):
        raise ValueError("component id parts cannot contain ':'")
    encoded = ":".join(parts)
    if len(encoded) > MAX_LENGTH:
        raise ValueError(f"component id is {len(encoded)} characters; the limit is {MAX_LENGTH}")
    return encoded


def decode(raw: str) -> ComponentId | None:
    """Parse an id made by :func:`encode`; None for anything else (e.g. another app's ids)."""
    parts = raw.split(":")
    if len(parts) not in (4, 5) or parts[0] != PREFIX or parts[3] not in ACTIONS:
        return None
    try:
        session_id = _unpack(parts[1])
    except ValueError:
        return None
    return ComponentId(session_id, parts[2], ACTIONS[parts[3]], parts[4] if len(parts) == 5 else "")
