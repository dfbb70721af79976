"""Small, deterministic text analysis shared by the offline evaluator and the injection check."""

from __future__ import annotations

import re
from functools import lru_cache

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


def find_phrase(
    answer_tokens: list[str], phrase: str, answer_stems: list[str] | None = None
) -> bool:
    """True when ``phrase`` occurs as a contiguous run of stems not preceded by a negation.

    Pass ``answer_stems`` (the stems of ``answer_tokens``) when matching many phrases.
    """
    wanted = _phrase_stems(phrase)
    if not wanted:
        return False
    if answer_stems is None:
        answer_stems = [stem(token) for token in answer_tokens]
    width = len(wanted)
    first = wanted[0]
    for start in range(len(answer_stems) - width + 1):
        if answer_stems[start] != first:
            continue
        if tuple(answer_stems[start : start + width]) == wanted:
            before = answer_tokens[start - 1] if start > 0 else ""
            if before not in NEGATIONS:
                return True
    return False


@lru_cache(maxsize=4096)
def _phrase_stems(phrase: str) -> tuple[str, ...]:
    return tuple(stems(phrase))


_INSTRUCTION_PATTERNS = [
    r"\bignore\b.{0,40}\b(instruction|rubric|prompt|previous|above|rules?|criteria|reference)",
    r"\b(give|award|grant|assign)\b.{0,20}\b(me|this|the answer)?\b.{0,10}\b(full|max(imum)?|all|100|perfect)\b.{0,12}\b(marks?|points?|score|credit)",
    r"\b(full|maximum|perfect|top)\s+(marks?|points?|score|credit)\b",
    r"\byou are (now )?(a|an|the)\b.{0,30}\b(grader|evaluator|assistant|model|marker)\b",
    r"\b(system|developer|admin(istrator)?)\s+(prompt|message|instruction|override|note)",
    r"(?:^|(?<=[\n.!?]))\s*(system|assistant|developer)\s*:",
    r"\bas the (grader|evaluator|marker)\b",
    r"\b(note|message|instruction)s? (to|for) the (grader|evaluator|marker|model|ai|llm)\b",
    r"\b(mark|grade|score|rate)\s+(this|my answer|me|it)\s+(as\s+)?(correct|passed|a pass|100|full)",
    r"\bdisregard\b.{0,40}\b(instruction|rubric|above|previous|criteria)",
    r"\bforget\b.{0,30}\b(instruction|rubric|rules?|previous)",
    r"</?\s*(answer|learner_answer|system|instructions?|rubric|question|reference_answer)\s*>",
    r"\bnew (instructions?|rules?|rubric)\b",
    r"\binstruction_attempt\b",
    r"[\"']points[\"']\s*:",
    r"\b(pretend|act as if|assume)\b.{0,40}\b(grader|rubric|reference answer|fully correct|full marks)",
    r"\b(the )?(correct|expected|right) (grade|score|mark) (for this|is)\b",
    r"\b(\d{1,3}\s*/\s*\d{1,3}|100\s*%)\s*(marks?|points?)?\s*(please|now)\b",
    r"\baward\s+\d+\s*(/\s*\d+\s*)?(marks?|points?)",
    # Claims about the answer, addressed to whoever grades it.
    r"\b(this|my) answer (fully |clearly |already )?(covers|mentions|explains|addresses|meets|satisfies|deserves|earns|should (get|pass|receive)|is (fully |completely )?correct)",
]
_INSTRUCTION = re.compile(
    "|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.IGNORECASE | re.DOTALL
)
_SENTENCE_END = re.compile(r"[.!?;\n]")


# One by one, each pattern is searched far faster than the alternation of all of them (measured:
# ~0.7 ms against ~3.4 ms on a 1,000-character answer).
_EACH_INSTRUCTION = tuple(re.compile(p, re.IGNORECASE | re.DOTALL) for p in _INSTRUCTION_PATTERNS)


def looks_like_instructions(text: str) -> bool:
    """True when the text tries to instruct the grader rather than answer the question."""
    return any(pattern.search(text) is not None for pattern in _EACH_INSTRUCTION)


def honest_text(text: str) -> str:
    """``text`` without the sentences that instruct the grader: what the answer really says.

    Each match of an instruction pattern is widened to the sentence(s) around it and removed, so
    concept words inside an injection ("award full marks for reuse") earn nothing.
    """
    spans: list[tuple[int, int]] = []
    for match in _INSTRUCTION.finditer(text):
        start = _sentence_start(text, match.start())
        end = _sentence_end(text, max(match.end() - 1, match.start()))
        spans.append((start, end))
    if not spans:
        return text
    kept: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if start > position:
            kept.append(text[position:start])
        position = max(position, end)
    kept.append(text[position:])
    return " ".join(part.strip() for part in kept if part.strip())


def _sentence_start(text: str, index: int) -> int:
    for position in range(index - 1, -1, -1):
        if _SENTENCE_END.match(text, position):
            return position + 1
    return 0


def _sentence_end(text: str, index: int) -> int:
    found = _SENTENCE_END.search(text, index)
    return len(text) if found is None else found.end()
