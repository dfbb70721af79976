"""Text analysis for the calibrated grader: normalised tokens, lemmas, stems and negation scope.

Words are reduced to a *key*: the Snowball (Porter 2) stem of the word's lemma from lemminflect,
so ``cache``/``cached``/``caches`` and ``store``/``stores``/``stored`` share a key, and irregular forms
(``ran``/``run``) meet through the lemma. A negation cue (``not``, ``never``, ``n't``, ``no``…) negates
every content word after it up to the end of its clause, not only the next word, so "does not really
use less memory" does not assert "uses less memory".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from core.llm.text import NEGATIONS, STOPWORDS

# Letters from other scripts that look like Latin ones: answers written with them are read as the
# Latin text they imitate (and the guard flags the mix; see core.llm.grading_guard).
CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ɡ": "g", "ո": "n", "ս": "u",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
        "α": "a", "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
# A full stop ends a sentence only before a space or the end ("o.amount" and "3.5" are one thing).
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.!?](?=\s|$)|[,;:()\[\]\n]")
CLAUSE_BREAKS = frozenset(".,;:!?()[]\n") | {"but", "however", "although", "though", "whereas"}
# "n't" forms are split by the tokenizer only when written with an apostrophe; keep both.
SENTENCE_ENDS = frozenset(".!?;\n")
NEGATION_CUES = NEGATIONS | {"nothing", "none", "nobody", "false", "untrue", "wrong", "hardly"}


def normalise(text: str) -> str:
    """NFKC-normalised text with look-alike letters mapped to Latin and invisible characters
    removed: what a reader sees."""
    folded = unicodedata.normalize("NFKC", text).translate(CONFUSABLES)
    return _INVISIBLE.sub("", folded).replace("\u2019", "'").replace("\u2018", "'")


@lru_cache(maxsize=65536)
def key(word: str) -> str:
    """The matching key of one lower-case word: the Snowball stem of its lemma."""
    return _stemmer().stemWord(_lemma(word))


def _lemma(word: str) -> str:
    if not word.isalpha():
        return word
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word)
    for upos in ("VERB", "NOUN", "ADJ", "ADV", "AUX"):
        found = lemmas.get(upos)
        if found:
            return str(found[0]).lower()
    return word


@lru_cache(maxsize=1)
def _stemmer() -> _Stemmer:
    import snowballstemmer

    stemmer: _Stemmer = snowballstemmer.stemmer("english")
    return stemmer


class _Stemmer(Protocol):  # the part of snowballstemmer's interface used here
    def stemWord(self, word: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Analysed:
    """An answer (or reference, or example) as the grader reads it."""

    words: tuple[str, ...]  # lower-case word tokens, punctuation removed
    keys: tuple[str, ...]  # one key per word
    negated: tuple[bool, ...]  # whether each word lies in a negation's scope
    clause: tuple[int, ...]  # the clause each word belongs to
    content: frozenset[str]  # keys of un-negated content words
    negated_content: frozenset[str]  # keys of negated content words
    function_words: int  # how many words are stopwords (syntax, not topic)


@lru_cache(maxsize=4096)
def analyse(text: str) -> Analysed:
    """Tokenise ``text`` and mark each word's key, negation scope and clause."""
    words: list[str] = []
    negated: list[bool] = []
    clauses: list[int] = []
    clause = 0
    in_scope = sentential = False
    found = _TOKEN.findall(normalise(text).lower())
    for index, token in enumerate(found):
        if token in CLAUSE_BREAKS:
            clause += 1
            # "It is not true that A, B" denies the whole sentence, not only its first clause.
            if not (sentential and token not in SENTENCE_ENDS):
                in_scope = sentential = False
            if not token.isalpha():
                continue
        if token in NEGATION_CUES or token.endswith("n't"):
            in_scope = True
            sentential = sentential or _denies_sentence(found, index)
            words.append(token)
            negated.append(False)
            clauses.append(clause)
            continue
        words.append(token)
        negated.append(in_scope)
        clauses.append(clause)
    keys = tuple(key(word) for word in words)
    content = {k for w, k, n in zip(words, keys, negated, strict=True) if _content(w) and not n}
    negative = {k for w, k, n in zip(words, keys, negated, strict=True) if _content(w) and n}
    return Analysed(
        words=tuple(words),
        keys=keys,
        negated=tuple(negated),
        clause=tuple(clauses),
        content=frozenset(content),
        negated_content=frozenset(negative),
        function_words=sum(1 for w in words if w in STOPWORDS or w in NEGATION_CUES),
    )


def _denies_sentence(tokens: list[str], index: int) -> bool:
    """True for "not true that", "not the case that", "false that", "not correct that"…"""
    following = tokens[index + 1 : index + 5]
    if tokens[index] in {"false", "untrue", "wrong"}:
        return following[:1] == ["that"]
    return "that" in following and bool({"true", "case", "correct", "right"} & set(following))


def _content(word: str) -> bool:
    return word not in STOPWORDS and word not in NEGATION_CUES and not word.endswith("n't")


@lru_cache(maxsize=8192)
def phrase_keys(phrase: str) -> tuple[str, ...]:
    """The keys of a concept or misconception phrase, in order (stopwords kept for phrases)."""
    return analyse(phrase).keys


def asserts_phrase(answer: Analysed, phrase: str) -> bool:
    """True when ``phrase`` occurs as a contiguous run of keys, none of them negated."""
    wanted = phrase_keys(phrase)
    width = len(wanted)
    if not width:
        return False
    keys = answer.keys
    for start in range(len(keys) - width + 1):
        if (
            keys[start] == wanted[0]
            and keys[start : start + width] == wanted
            and not any(answer.negated[start : start + width])
        ):
            return True
    return False


def asserts_statement(answer: Analysed, statement: str, *, max_gap: int = 2) -> bool:
    """True when the content words of ``statement`` appear in order, un-negated, in one clause of
    the answer, with at most ``max_gap`` content words between consecutive ones."""
    wanted = [k for w, k in zip(*_words_and_keys(statement), strict=True) if _content(w)]
    if not wanted:
        return False
    keys, negated, clause = answer.keys, answer.negated, answer.clause
    words = answer.words
    for start, first in enumerate(keys):
        if first != wanted[0] or negated[start]:
            continue
        found, gap = 1, 0
        for index in range(start + 1, len(keys)):
            if found == len(wanted):
                break
            if clause[index] != clause[start]:
                break
            if keys[index] == wanted[found] and not negated[index]:
                found += 1
                gap = 0
            elif _content(words[index]):
                gap += 1
                if gap > max_gap:
                    break
        if found == len(wanted):
            return True
    return False


@lru_cache(maxsize=4096)
def _words_and_keys(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    analysed = analyse(text)
    return analysed.words, analysed.keys
