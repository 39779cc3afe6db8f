"""Words as the lexical index sees them: tokens, an English stopword list, stemmed content tokens.

Lexical matching compares *content tokens*: lowercase words without stopwords and possessives,
cut at hyphens, Snowball-stemmed (PyStemmer). The store's full-text index and the agents' text
analysis use the same functions, so a query and a document are always tokenized alike.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

__all__ = [
    "APOSTROPHES",
    "STOPWORDS",
    "content_tokens",
    "stem",
    "strip_possessive",
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

#: Curly apostrophes and the modifier letter, mapped to the ASCII one.
APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*(?:-[^\W_]+)*")
_STEMMER = Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens; apostrophes are unified, contractions and hyphenations kept whole."""
    return _WORD.findall(text.translate(APOSTROPHES).lower())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of a lowercase word."""
    return str(_STEMMER.stemWord(word))


def strip_possessive(token: str) -> str:
    """``token`` without a trailing possessive (``sam's`` → ``sam``, ``james'`` → ``james``)."""
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
        for part in strip_possessive(token).split("-"):
            if len(part) > 1 and part not in STOPWORDS:
                out.append(stem(part))
    return out
