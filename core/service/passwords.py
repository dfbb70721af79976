"""How guessable a new password is, judged by zxcvbn's estimator.

zxcvbn (Dropbox's estimator, maintained on PyPI) ships ranked lists of breached and common
passwords, common words and names, and models keyboard walks, repeats, sequences, dates and l33t
substitutions (``Passw0rd!``). A password is accepted when its score reaches :data:`MIN_SCORE`
(about 10^8 guesses: out of reach of online guessing and costly offline against argon2id).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

MIN_SCORE = 3
# zxcvbn's matching grows fast with length (half a second at 72 characters): judge a prefix.
# Thirty-two characters that are still easy to guess (a repeated word) make a weak password
# whatever follows.
CHECKED_CHARS = 32
# zxcvbn keeps the user inputs in a module-level dictionary while it works: one check at a time.
_LOCK = threading.Lock()
GENERIC_REASON = "a password-guessing program would find it quickly"


def password_weakness(password: str, user_inputs: Sequence[str] = ()) -> str | None:
    """Given a candidate password, return why it is too easy to guess, or None when it is not.

    ``user_inputs`` (the email, its local part) count as words an attacker would try first. The
    reason never repeats the password.
    """
    with _LOCK:
        result = _estimate(password[:CHECKED_CHARS], list(user_inputs))
    if int(result["score"]) >= MIN_SCORE:
        return None
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "").strip().rstrip(".")
    reason = warning[:1].lower() + warning[1:] if warning else GENERIC_REASON
    suggestions = " ".join(str(s).strip() for s in feedback.get("suggestions") or ())
    return f"{reason}. {suggestions}".strip()


# A signing key must hold what its length promises: at least this many bits by its own character
# statistics, and at least this many guesses (log10) by zxcvbn's patterns.
MIN_KEY_BITS = 80.0
MIN_KEY_GUESSES_LOG10 = 20.0


def secret_key_weakness(key: str) -> str | None:
    """Given a signing key, return why it is guessable (``'a' * 32``, a repeated word, a keyboard
    run), or None. Never repeats the key."""
    counts = Counter(key)
    bits = max(0.0, -sum(n * math.log2(n / len(key)) for n in counts.values())) if key else 0.0
    if bits < MIN_KEY_BITS:
        return f"its characters carry about {bits:.0f} bits, fewer than {MIN_KEY_BITS:.0f}"
    with _LOCK:
        result = _estimate(key[:CHECKED_CHARS], [])
    if float(result["guesses_log10"]) < MIN_KEY_GUESSES_LOG10:
        return "it follows a pattern (words, repeats, sequences) a guessing program tries early"
    return None


def _estimate(text: str, user_inputs: list[str]) -> dict[str, Any]:
    # Imported on first use: zxcvbn builds its ranked dictionaries at import (~0.2 s), which the
    # CLI's other commands should not pay for.
    from zxcvbn import zxcvbn

    result: dict[str, Any] = zxcvbn(text, user_inputs=user_inputs)
    return result
