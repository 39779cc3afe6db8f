"""Entities mentioned in a text: names, proper-noun spans and salient topics.

Three sources, in this order of trust:

1. ``known`` names (the speakers, entities already in memory), matched case-insensitively as
   whole words, possessives stripped ("caroline's" → "Caroline"), nicknames by prefix ("Mel" →
   "Melanie" when exactly one known one-word name starts with it);
2. proper-noun spans: runs of capitalised words ("Lord of the Rings", "LGBTQ"), except at the
   start of a sentence or clause, where a single capitalised word counts only if it is known,
   an acronym, or capitalised again elsewhere in the text; pronouns, stopwords, interjections,
   weekdays and months never count;
3. topics: the best keyphrases that look like nouns ("support group", "pottery").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from agents.analysis.keywords import FILLER_WORDS, STOPWORDS, keyphrases, wordset
from agents.analysis.segment import split_sentences

__all__ = ["entity_key", "extract_entities", "normalize_entity"]

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "ʼ": "'"})
_DETERMINERS = re.compile(r"^(?:the|a|an|my|our|his|her|their|your|its)\s+(?=\S)", re.IGNORECASE)
_EDGE_PUNCT = " \t\n.,;:!?\"'()[]{}<>*_~`-–—"


def normalize_entity(name: str) -> str:
    """Canonical form of an entity name: NFKC, one space, no surrounding punctuation, no
    possessive, no leading determiner ("the Smoky Mountains" → "Smoky Mountains"). Case is kept.
    """
    text = " ".join(unicodedata.normalize("NFKC", name).translate(_QUOTES).split())
    text = text.strip(_EDGE_PUNCT)
    if text.endswith("s'"):
        text = text[:-1]
    elif text.lower().endswith("'s"):
        text = text[:-2]
    text = _DETERMINERS.sub("", text.strip(_EDGE_PUNCT))
    return text.strip(_EDGE_PUNCT)


def entity_key(name: str) -> str:
    """The comparison key of an entity: its canonical form, casefolded."""
    return normalize_entity(name).casefold()


_MONTH_DAY_NAMES = wordset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
    "saturday sunday"
)
_NEVER = wordset(
    "i i'm i've i'd i'll mr mrs ms dr lol omg ok okay btw idk tbh hey hi wow yay aw aww congrats "
    "thanks thank yes yeah yep nope please sorry gonna wanna gotta hmm haha hahaha god"
)
_CONNECTORS = wordset("of the de du da la le van von del di & n' 'n'")
_TOKEN = re.compile(r"[^\W_][\w'&-]*\+?|&")
_NOT_TOPIC_SUFFIXES = ("ly", "ful", "ous", "less", "able", "ible", "ed")
_MAX_KNOWN_WORDS = 6


def _unpossessed(word: str) -> str:
    if "'" not in word:
        return word
    if word.endswith(("'s", "'S")):
        return word[:-2]
    return word[:-1] if word.endswith("'") else word


def _words(text: str) -> list[str]:
    return [_unpossessed(w) for w in _TOKEN.findall(text.lower())]


@lru_cache(maxsize=64)
def _known_index(
    known: tuple[str, ...],
) -> tuple[dict[tuple[str, ...], str], dict[str, str], dict[str, int]]:
    """Known names by their word tuple, unambiguous one-word names by every prefix of 3 letters
    or more, and by each first word of a known name the most words of a name it starts."""
    index: dict[tuple[str, ...], str] = {}
    prefixes: dict[str, str] = {}
    ambiguous: set[str] = set()
    for name in known:
        canonical = normalize_entity(name)
        words = tuple(_words(canonical))
        if not words or len(words) > _MAX_KNOWN_WORDS:
            continue
        index.setdefault(words, canonical)
        if len(words) == 1 and canonical[:1].isupper():
            for end in range(3, len(words[0])):
                prefix = words[0][:end]
                if prefix in prefixes and prefixes[prefix] != canonical:
                    ambiguous.add(prefix)
                prefixes[prefix] = canonical
    for prefix in ambiguous | {w[0] for w in index if len(w) == 1}:
        prefixes.pop(prefix, None)
    starts: dict[str, int] = {}
    for words in index:
        starts[words[0]] = max(starts.get(words[0], 0), len(words))
    return index, prefixes, starts


def _match_known(
    text: str, index: dict[tuple[str, ...], str], starts: dict[str, int]
) -> list[tuple[int, str]]:
    """(character offset, canonical name) of known names in the text, longest match first."""
    matches = list(_TOKEN.finditer(text.lower()))
    words = [_unpossessed(m.group()) for m in matches]
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(words):
        for n in range(min(starts.get(words[i], 0), len(words) - i), 0, -1):
            name = index.get(tuple(words[i : i + n]))
            if name is not None:
                found.append((matches[i].start(), name))
                i += n
                break
        else:
            i += 1
    return found


def _breaks(lower: str) -> bool:
    return lower in STOPWORDS or lower in _NEVER or lower in _MONTH_DAY_NAMES


Span = tuple[int, list[str], bool]  # character offset, words, starts a sentence or clause


def _proper_spans(sentence: str) -> list[Span]:
    """Runs of capitalised words in a sentence (connectors such as "of the" allowed inside)."""
    spans: list[Span] = []
    run: list[str] = []
    run_start, run_initial = 0, False
    prev_end = 0
    clause_start = True

    def close() -> None:
        nonlocal run
        while run and run[-1].lower() in _CONNECTORS:
            run = run[:-1]
        if run:
            spans.append((run_start, run, run_initial))
        run = []

    for m in _TOKEN.finditer(sentence):
        token = _unpossessed(m.group())
        gap = sentence[prev_end : m.start()]
        prev_end = m.end()
        if gap.strip():
            close()
            if any(c in gap for c in ',;:!?.()"-–—'):
                clause_start = True
        lower = token.lower()
        initial, clause_start = clause_start, False
        if run and lower in _CONNECTORS:
            run.append(token)
        elif (token[:1].isupper() or (run and token.isdigit())) and not (
            _breaks(lower) or (initial and lower in FILLER_WORDS)
        ):
            if not run:
                run_start, run_initial = m.start(), initial
            run.append(token)
        else:
            close()
        if token != m.group():  # a possessive ends the name ("Mel's kids")
            close()
    close()
    return spans


_UPPER = re.compile(r"[^\W\d_a-z]")


def _first_word(sentence: str) -> str:
    m = _TOKEN.search(sentence)
    return _unpossessed(m.group().lower()) if m else ""


def _is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


_NOUN_SUFFIXES = ("tion", "sion", "ment", "ness", "ity", "ery", "ism", "ist", "ship", "ance",
                  "ence", "ing", "hood", "dom")  # fmt: skip
_NOUN_CONTEXT = wordset(
    "a an the my your our his her their its some any this these those of for with about in on at "
    "from into every each no"
)


def _noun_contexts(text: str) -> set[str]:
    """Words that follow a determiner or preposition (possibly after one modifier)."""
    words = _words(text)
    nouny: set[str] = set()
    for i, word in enumerate(words):
        if (i >= 1 and words[i - 1] in _NOUN_CONTEXT) or (i >= 2 and words[i - 2] in _NOUN_CONTEXT):
            nouny.add(word)
    return nouny


def _topics(text: str, k: int, taken: set[str], proper_words: set[str]) -> list[str]:
    """Up to ``k`` keyphrases that look like noun phrases, proper-noun words removed."""
    topics: list[str] = []
    nouny: set[str] | None = None
    for phrase in keyphrases(text, k=3 * k + 3):
        words = [w for w in phrase.split() if w not in proper_words and w not in _MONTH_DAY_NAMES]
        while words and words[0].endswith(_NOT_TOPIC_SUFFIXES):
            words = words[1:]
        if not words or len(words[-1]) < 3 or words[-1].endswith(_NOT_TOPIC_SUFFIXES):
            continue
        if len(words) == 1 and not words[0].endswith(_NOUN_SUFFIXES):
            nouny = _noun_contexts(text) if nouny is None else nouny
            if words[0] not in nouny:
                continue
        topic = " ".join(words)
        if topic not in taken and topic not in topics:
            topics.append(topic)
        if len(topics) == k:
            break
    return topics


def extract_entities(text: str, known: Iterable[str] = (), *, topics: int = 3) -> list[str]:
    """Entities of ``text``: known names and proper nouns in order of appearance, then up to
    ``topics`` lowercase topic phrases. Each appears once, in canonical form (known names keep
    their known spelling). Deterministic.
    """
    index, prefixes, starts = _known_index(tuple(sorted({k for k in known if k and k.strip()})))
    text = text.translate(_QUOTES)
    found = [(offset, name) for offset, name in _match_known(text, index, starts)]
    all_spans: list[Span] = []
    pos = 0
    for sentence in split_sentences(text):
        start = text.find(sentence, pos)
        pos = start + len(sentence)
        if len(_UPPER.findall(sentence)) > 1 or _first_word(sentence) in prefixes:
            all_spans.extend((start + o, ws, ini) for o, ws, ini in _proper_spans(sentence))
    inner_caps = {w.lower() for _, ws, initial in all_spans for w in (ws[1:] if initial else ws)}
    for offset, words, initial in all_spans:
        single = words[0].lower() if len(words) == 1 else None
        if single in prefixes:
            found.append((offset, prefixes[single]))
        elif not (initial and single) or single in inner_caps or _is_acronym(words[0]):
            found.append((offset, " ".join(words)))
    seen: set[str] = set()
    entities: list[str] = []
    for _, name in sorted(found, key=lambda f: f[0]):
        canonical = normalize_entity(name)
        key = canonical.casefold()
        if canonical and key not in seen:
            seen.add(key)
            entities.append(canonical)
    if topics > 0:
        proper_words = {w for key in seen for w in key.split()}
        proper_words |= {w.lower() for _, ws, _ in all_spans for w in ws}
        entities.extend(_topics(text, topics, seen, proper_words))
    return entities
