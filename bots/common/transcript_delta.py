"""Which transcript lines an action added: what a chat bot posts after each learner action.

The session view keeps only a bounded tail of the transcript, so "the new lines" are found by
aligning the tail seen before the action with the tail seen after it, not by counting.
"""

from __future__ import annotations

from core.engine.state import TranscriptEntry


def entries_since(
    before: tuple[TranscriptEntry, ...], after: tuple[TranscriptEntry, ...]
) -> tuple[TranscriptEntry, ...]:
    """Return the entries of ``after`` that ``before`` did not end with (all when none align)."""
    for overlap in range(min(len(before), len(after)), 0, -1):
        if after[:overlap] == before[-overlap:]:
            return after[overlap:]
    return after
