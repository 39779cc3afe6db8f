"""Word-level analysis: tokens, an English stopword list, stemmed content tokens and keyphrases.

Keyphrases are scored RAKE-style (Rose et al., 2010): the text is cut into candidate phrases at
stopwords and punctuation, each word scores ``degree / frequency`` over the candidates, and a
phrase scores the sum of its words. A second, wider list of "filler" words (chat interjections,
generic verbs and adjectives, time words) also cuts phrases, so that what remains is mostly the
nouns and noun compounds a conversation is about ("support group", "pottery class").
"""

from __future__ import annotations

import re
from collections import Counter

from memory.text import (
    APOSTROPHES,
    STOPWORDS,
    content_tokens,
    stem,
    strip_possessive,
    tokenize,
    wordset,
)

__all__ = [
    "FILLER_WORDS",
    "STOPWORDS",
    "content_tokens",
    "keyphrases",
    "phrase_candidates",
    "stem",
    "tokenize",
    "wordset",
]


#: Words that are not stopwords but do not make a keyphrase on their own in casual chat.
FILLER_WORDS: frozenset[str] = wordset(
    """
    really actually totally definitely absolutely especially basically literally maybe probably
    always still even ever already soon lately recently together alone again much many lot lots
    bit little pretty super truly simply certainly surely honestly seriously
    great good cool awesome amazing nice lovely wonderful fantastic incredible beautiful perfect
    glad happy sad sorry proud excited exciting fun funny sweet cute tough hard easy best better
    special important true whole own new old big small sure able fine interesting inspiring
    thanks thank congrats congratulations please welcome love loved loves loving like liked likes
    get gets got getting gotten go goes going went gone make makes made making take takes took
    taking taken feel feels felt feeling think thinks thought thinking know knows knew known see
    sees saw seen seeing look looks looked looking want wants wanted need needs needed try tries
    tried trying keep keeps kept say says said tell tells told come comes came coming put give
    gives gave given find finds found use used mean means meant hope hopes hoped hear heard share
    shared sharing sound sounds sounded seem seems seemed let lets wish talk talked talking chat
    chatted catch check stay enjoy enjoyed appreciate appreciated agree happen happened
    thing things stuff something anything everything nothing someone anyone everyone way ways
    kind sort time times moment moments day days today tonight yesterday tomorrow morning night
    evening afternoon week weeks weekend weekends month months year years ago last next past
    first second one two three well long
    """
)

_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”…|/\\]+|\s[-–—]+\s|\s&\s")
_CAND_TOKEN = re.compile(r"(?P<w>[^\W\d_][^\W_]*(?:'[^\W_]+)*(?:-[^\W_]+)*)|\d\w*|\S")
_NON_KEY = STOPWORDS | FILLER_WORDS


def phrase_candidates(text: str, max_words: int = 3) -> list[list[str]]:
    """Candidate phrases as lists of surface words, in text order.

    Phrases are cut at punctuation, stopwords, filler words and numbers; a run longer than
    ``max_words`` keeps its last words (the head of an English noun phrase comes last).
    """
    candidates: list[list[str]] = []
    for chunk in _BREAK.split(text.translate(APOSTROPHES)):
        run: list[str] = []
        for match in _CAND_TOKEN.finditer(chunk):
            raw = match.group("w")
            word = strip_possessive(raw) if raw else ""
            if not word or word.lower() in _NON_KEY:
                if run:
                    candidates.append(run[-max_words:])
                    run = []
                continue
            if len(word) > 1:
                run.append(word)
            if raw != word and run:  # a possessive ends the phrase ("Mel's kids")
                candidates.append(run[-max_words:])
                run = []
        if run:
            candidates.append(run[-max_words:])
    return candidates


def keyphrases(text: str, k: int = 8) -> list[str]:
    """The ``k`` best keyphrases of ``text``, lowercase, best first (RAKE scores, ties by position).

    A phrase contained in a better-ranked one is left out ("group" under "support group").
    """
    if k <= 0:
        return []
    phrases = [tuple(w.lower() for w in cand) for cand in phrase_candidates(text)]
    if not phrases:
        return []
    freq: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for phrase in phrases:
        for word in phrase:
            freq[word] += 1
            degree[word] += len(phrase)
    counts = Counter(phrases)
    first: dict[tuple[str, ...], int] = {}
    for i, phrase in enumerate(phrases):
        first.setdefault(phrase, i)
    scored = sorted(
        first,
        key=lambda p: (
            -(sum(degree[w] / freq[w] for w in p) * (1.0 + 0.5 * (counts[p] - 1))),
            first[p],
        ),
    )
    chosen: list[str] = []
    for phrase in scored:
        text_form = " ".join(phrase)
        padded = f" {text_form} "
        if any(padded in f" {c} " for c in chosen):
            continue
        chosen.append(text_form)
        if len(chosen) == k:
            break
    return chosen
