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
from functools import lru_cache

import Stemmer

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


def wordset(words: str) -> frozenset[str]:
    """A frozen set of the whitespace-separated words of ``words`` (for word-list literals)."""
    return frozenset(words.split())


#: Function words and chat fillers that carry no content, lowercase, with contractions.
STOPWORDS: frozenset[str] = wordset(
    """
    a about above after again against all almost also am among an and any are aren't as at be
    because been before being below between both but by can can't cannot could couldn't did didn't
    do does doesn't doing don't down during each either else ever every few for from further had
    hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's however i i'd i'll i'm i've if in into is isn't it it'd it'll it's its
    itself just let's me might mine more most must mustn't my myself neither no nor not now of off
    often on once only or other others otherwise ought our ours ourselves out over own per quite
    rather same shall shan't she she'd she'll she's should shouldn't since so some such than that
    that'll that's the their theirs them themselves then there there's these they they'd they'll
    they're they've this those though through thus to too under until up upon us very was wasn't
    we we'd we'll we're we've were weren't what what's whatever when when's where where's whether
    which while who who's whom whose why why's will with within without won't would wouldn't yet
    you you'd you'll you're you've your yours yourself yourselves
    im ive id dont cant wont didnt doesnt isnt wasnt thats whats theres youre
    gonna wanna gotta kinda sorta ya yeah yep yes yup nope ok okay oh ah aw aww hey hi hello
    wow lol haha hahaha omg btw um uh hmm u ur tho cuz cause 'cause 's
    """
)

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

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*(?:-[^\W_]+)*")
_STEMMER = Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens; apostrophes are unified, contractions and hyphenations kept whole."""
    return _WORD.findall(text.translate(_APOSTROPHES).lower())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of a lowercase word."""
    return str(_STEMMER.stemWord(word))


def _strip_possessive(token: str) -> str:
    if "'" not in token:
        return token
    if token.endswith("'s"):
        return token[:-2]
    if token.endswith("'"):
        return token[:-1]
    return token


def content_tokens(text: str) -> list[str]:
    """Stemmed content words of ``text`` in order: lowercase, possessives and stopwords removed.

    Hyphenated words count as their parts ("self-care" → "self", "care"); single letters are
    dropped, numbers kept. The result is what lexical matching (BM25, overlap) should compare.
    """
    out: list[str] = []
    for token in tokenize(text):
        if token in STOPWORDS:
            continue
        for part in _strip_possessive(token).split("-"):
            if len(part) > 1 and part not in STOPWORDS:
                out.append(stem(part))
    return out


_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”…|/\\]+|\s[-–—]+\s|\s&\s")
_CAND_TOKEN = re.compile(r"(?P<w>[^\W\d_][^\W_]*(?:'[^\W_]+)*(?:-[^\W_]+)*)|\d\w*|\S")
_NON_KEY = STOPWORDS | FILLER_WORDS


def phrase_candidates(text: str, max_words: int = 3) -> list[list[str]]:
    """Candidate phrases as lists of surface words, in text order.

    Phrases are cut at punctuation, stopwords, filler words and numbers; a run longer than
    ``max_words`` keeps its last words (the head of an English noun phrase comes last).
    """
    candidates: list[list[str]] = []
    for chunk in _BREAK.split(text.translate(_APOSTROPHES)):
        run: list[str] = []
        for match in _CAND_TOKEN.finditer(chunk):
            raw = match.group("w")
            word = _strip_possessive(raw) if raw else ""
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
