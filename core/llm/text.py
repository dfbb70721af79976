"""Small, deterministic text analysis shared by the offline evaluator and the injection check."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er")
NEGATIONS = frozenset(
    {
        "not", "no", "never", "don't", "dont", "doesn't", "doesnt", "isn't", "isnt", "without",
        "cannot", "can't", "cant", "won't", "wont", "aren't", "arent", "shouldn't", "neither", "nor",
    }
)  # fmt: skip
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "else",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "so",
        "such",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "done",
        "has",
        "have",
        "had",
        "having",
        "you",
        "your",
        "yours",
        "we",
        "our",
        "they",
        "their",
        "them",
        "he",
        "she",
        "his",
        "her",
        "i",
        "me",
        "my",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "than",
        "too",
        "very",
        "just",
        "also",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "up",
        "out",
        "not",
        "no",
        "more",
        "most",
        "less",
        "some",
        "any",
        "each",
        "every",
        "all",
        "both",
        "either",
        "one",
        "two",
        "other",
        "another",
        "same",
        "own",
        "only",
        "s",
        "t",
    ]
)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; apostrophes inside words are kept (``don't``)."""
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def stem(token: str) -> str:
    """A crude, predictable stemmer: strip one common suffix when 3+ letters remain."""
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def stems(text: str) -> list[str]:
    return [stem(token) for token in tokens(text)]


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning (stopwords removed)."""
    return {stem(token) for token in tokens(text) if token not in STOPWORDS}


def find_phrase(answer_tokens: list[str], phrase: str) -> bool:
    """True when ``phrase`` occurs as a contiguous run of stems not preceded by a negation."""
    wanted = stems(phrase)
    if not wanted:
        return False
    answer_stems = [stem(token) for token in answer_tokens]
    width = len(wanted)
    for start in range(len(answer_stems) - width + 1):
        if answer_stems[start : start + width] == wanted:
            before = answer_tokens[start - 1] if start > 0 else ""
            if before not in NEGATIONS:
                return True
    return False


_INSTRUCTION_PATTERNS = [
    r"\bignore\b.{0,40}\b(instruction|rubric|prompt|previous|above|rules?)",
    r"\b(give|award|grant|assign)\b.{0,20}\b(me|this|the answer)?\b.{0,10}\b(full|max(imum)?|all|100|perfect)\b.{0,12}\b(marks?|points?|score|credit)",
    r"\b(full|maximum|perfect)\s+(marks?|points?|score|credit)\b",
    r"\byou are (now )?(a|an|the)\b.{0,30}\b(grader|evaluator|assistant|model)\b",
    r"\b(system|developer)\s+(prompt|message|instruction)",
    r"\bas the (grader|evaluator)\b",
    r"\b(mark|grade|score|rate)\s+(this|my answer|me)\s+(as\s+)?(correct|passed|a pass|100)",
    r"\bdisregard\b.{0,40}\b(instruction|rubric|above|previous)",
    r"</?\s*(answer|learner_answer|system|instructions?)\s*>",
    r"\bnew instructions?\b",
]
_INSTRUCTION = re.compile(
    "|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.IGNORECASE | re.DOTALL
)


def looks_like_instructions(text: str) -> bool:
    """True when the text tries to instruct the grader rather than answer the question."""
    return _INSTRUCTION.search(text) is not None
