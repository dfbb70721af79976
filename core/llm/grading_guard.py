"""The guard in front of every grader: answers that game the grader cannot pass.

It runs before the offline evaluator and after an LLM verdict (an LLM's "pass" never overrides it)
and returns the flags an answer earns:

* ``instruction_attempt``: it instructs or persuades the grader (``core.llm.text``'s patterns), or it
  speaks grading vocabulary the step itself does not use (``grader``, ``rubric``, ``score:``,
  ``points:``, ``PASSED``, ``reuse=10``…);
* ``keyword_stuffing``: a list of the step's words without the syntax of a sentence, or the
  reference answer's words shuffled;
* ``homoglyphs``: words that mix Latin letters with look-alike letters from other scripts.

Every rule was measured against every honest answer of the public benchmarks (Mohler and SemEval,
~18k answers); see docs/grading.md.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from core.llm.grading_text import NEGATION_CUES, analyse, key, normalise
from core.llm.text import STOPWORDS, looks_like_instructions

INSTRUCTION_FLAG = "instruction_attempt"
STUFFING_FLAG = "keyword_stuffing"
HOMOGLYPH_FLAG = "homoglyphs"
GAMING_FLAGS = frozenset({INSTRUCTION_FLAG, STUFFING_FLAG, HOMOGLYPH_FLAG})

# Words about grading itself: an answer may use them only when the step does.
GRADING_WORDS = frozenset(
    {"grader", "grading", "rubric", "evaluator", "verdict", "autograder", "scorer"}
)
_VERDICT_SYNTAX = re.compile(
    r"\b(score|points?|marks?|grade|verdict|result|status|total|rating)\s*[:=]\s*"
    r"(\d|pass|fail|correct|full|max)",
    re.IGNORECASE,
)
_SHOUTED_VERDICT = re.compile(r"\b(PASS(ED)?|FULL MARKS|CORRECT ANSWER|A\+)\b")
_SCORE_FRACTION = re.compile(r"\b\d{1,3}\s*/\s*\d{1,3}\b")
_WORD = re.compile(r"\w+", re.UNICODE)
# Reference-based stuffing rules need a reference with this many distinct content words: a short
# one (six words about strings and pitch) is legitimately echoed by honest answers.
MIN_REFERENCE_WORDS = 7
LIST_GLUE = frozenset({"and", "or", "also", "plus", "then"})


@dataclass(frozen=True, slots=True)
class StepWords:
    """The words a step itself uses: its question, reference, rubric and examples."""

    keys: frozenset[str]
    item_ids: frozenset[str]
    lower_text: str
    concept_phrases: tuple[tuple[tuple[str, ...], ...], ...]  # per item: its concepts' keys
    reference_keys: tuple[str, ...]


def step_words(
    question: str,
    reference: str | None,
    rubric: Iterable[tuple[str, str, tuple[str, ...]]],
    examples: Iterable[str] = (),
) -> StepWords:
    """Collect a step's vocabulary: ``rubric`` is ``(id, description, concepts)`` per item."""
    texts = [question, reference or "", *examples]
    ids: set[str] = set()
    concept_phrases: list[tuple[tuple[str, ...], ...]] = []
    for item_id, description, concepts in rubric:
        ids.add(item_id.lower())
        texts.append(description)
        texts.extend(concepts)
        phrases = {analyse(c).keys for c in (*concepts, item_id.replace("-", " "))}
        concept_phrases.append(tuple(p for p in phrases if p))
    vocabulary: set[str] = set()
    for text in texts:
        analysed = analyse(text)
        vocabulary |= analysed.content | analysed.negated_content
    vocabulary |= {key(i) for i in ids}
    ref = analyse(reference) if reference else None
    return StepWords(
        keys=frozenset(vocabulary),
        item_ids=frozenset(ids),
        lower_text=" ".join(texts).lower(),
        concept_phrases=tuple(concept_phrases),
        reference_keys=tuple(
            k for w, k in zip(ref.words, ref.keys, strict=True) if w not in STOPWORDS
        )
        if ref
        else (),
    )


def guard(answer: str, step: StepWords) -> tuple[str, ...]:
    """The gaming flags ``answer`` earns on a step (empty for an honest answer)."""
    flags: list[str] = []
    text = normalise(answer)
    if looks_like_instructions(text) or _speaks_grading(text, step):
        flags.append(INSTRUCTION_FLAG)
    if _stuffed(text, step) or _shuffled_reference(text, step):
        flags.append(STUFFING_FLAG)
    if _mixes_scripts(answer):
        flags.append(HOMOGLYPH_FLAG)
    return tuple(flags)


def _speaks_grading(text: str, step: StepWords) -> bool:
    words = {w.lower() for w in _WORD.findall(text)}
    if any(word in words and word not in step.lower_text for word in GRADING_WORDS):
        return True
    if _VERDICT_SYNTAX.search(text) and not _VERDICT_SYNTAX.search(step.lower_text):
        return True
    if _SHOUTED_VERDICT.search(text):
        return True
    for item_id in step.item_ids:
        pattern = rf"\b{re.escape(item_id)}\b\s*[:=]\s*\d"
        if re.search(pattern, text, re.IGNORECASE):
            return True
    return len(words & step.item_ids) >= 2 and bool(_SCORE_FRACTION.search(text))


def _stuffed(text: str, step: StepWords) -> bool:
    """A list of the step's words without the syntax of a sentence: rubric concepts from several
    items, the item ids, or most of the reference answer's words, with no function word outside
    the concept phrases themselves ("and", "or" and separators glue a list)."""
    analysed = analyse(text)
    words, keys = analysed.words, analysed.keys
    covered = [False] * len(words)
    items_hit = 0
    for phrases in step.concept_phrases:
        hit = False
        for phrase in phrases:
            width = len(phrase)
            for start in range(len(keys) - width + 1):
                if keys[start : start + width] == phrase:
                    covered[start : start + width] = [True] * width
                    hit = True
        items_hit += hit
    syntax = [
        w
        for w, inside in zip(words, covered, strict=True)
        if not inside and (w in STOPWORDS or w in NEGATION_CUES) and w not in LIST_GLUE
    ]
    if syntax:
        return False
    content = {k for w, k in zip(words, keys, strict=True) if w not in STOPWORDS and w.isalpha()}
    loose = sum(1 for w, inside in zip(words, covered, strict=True) if not inside)
    if items_hit >= 2 and len(words) >= 2 and loose * 3 < len(words):
        return True
    plain = set(_WORD.findall(text.lower()))
    if len(step.item_ids) >= 2 and len(plain & step.item_ids) >= 2:
        return True
    reference = set(step.reference_keys)
    return (
        len(content) >= 3
        and len(reference) >= MIN_REFERENCE_WORDS
        and len(content & reference) >= 0.8 * len(reference)
    )


def _shuffled_reference(text: str, step: StepWords) -> bool:
    """The reference answer's words (nearly all of them, and little else) in an order that breaks
    its phrases."""
    reference = step.reference_keys
    if len(set(reference)) < MIN_REFERENCE_WORDS:
        return False
    analysed = analyse(text)
    answer = [k for w, k in zip(analysed.words, analysed.keys, strict=True) if w not in STOPWORDS]
    wanted = Counter(reference)
    common = sum((Counter(answer) & wanted).values())
    if common < 0.9 * len(reference) or common < 0.9 * len(answer):
        return False
    bigrams = _bigrams(reference)
    kept = sum(1 for pair in itertools.pairwise(answer) if pair in bigrams)
    return kept < 0.5 * (len(answer) - 1)


@lru_cache(maxsize=1024)
def _bigrams(keys: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    return frozenset(itertools.pairwise(keys))


def _mixes_scripts(text: str) -> bool:
    if text.isascii():
        return False
    for word in _WORD.findall(text):
        scripts = {_script(ch) for ch in word if ch.isalpha()}
        if "LATIN" in scripts and scripts & {"CYRILLIC", "GREEK", "ARMENIAN"}:
            return True
    return False


def _script(ch: str) -> str:
    if ch.isascii():
        return "LATIN"
    return unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
