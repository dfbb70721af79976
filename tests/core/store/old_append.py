"""A store that calls ``curiouscore_append`` (migrations 0017 and 0018) as the code before
migration 0019 did, for the tests that compare the old function with ``curiouscore_append_v2``
and append through both to one stream (a rolling deploy)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from core.store.base import SessionSummary
from core.store.json_codec import dump_json
from core.store.sql import SqlStore
from core.store.sql_append import EVENT_SEPARATOR
from core.store.sql_raw import RawConnection

OLD_ARGUMENTS = 33
OLD_APPEND = (
    "SELECT * FROM curiouscore_append("
    + ", ".join("$9::text[]::integer[]" if n == 9 else f"${n}" for n in range(1, OLD_ARGUMENTS + 1))
    + ")"
)
_SUMMARY_COLUMNS = tuple(field.name for field in fields(SessionSummary))
# Where the new function's arguments put the events' texts and the index row's columns.
_EVENTS = slice(7, 11)
_SUMMARY = slice(20, 20 + len(_SUMMARY_COLUMNS))


def old_arguments(args: list[Any]) -> list[Any]:
    """``curiouscore_append_v2``'s arguments as ``curiouscore_append`` took them: the events as
    arrays, the index row as its JSON text."""
    events = [text.split(EVENT_SEPARATOR) for text in args[_EVENTS]]
    row = args[_SUMMARY]
    summary = None if row[0] is None else dump_json(dict(zip(_SUMMARY_COLUMNS, row, strict=True)))
    return [*args[: _EVENTS.start], *events, *args[_EVENTS.stop : _SUMMARY.start], summary,
            *args[_SUMMARY.stop :]]  # fmt: skip


class OldAppendStore(SqlStore):
    """Appends through ``curiouscore_append``, as a process running the code before 0019."""

    async def _call(self, raw: RawConnection, args: list[Any]) -> Any:
        old = old_arguments(args)
        assert len(old) == OLD_ARGUMENTS
        row = await raw.fetchrow("append", OLD_APPEND, old)
        assert row is not None
        return row
