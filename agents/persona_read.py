"""Reading one fact for what it says about a person: the patterns behind :mod:`agents.persona`.

Every pattern needs the person named as the subject of a plain statement: "Ann loves hiking",
"Ann's favourite book is Dune", "Ann works as a nurse", "Ann is a vegetarian", "Ann's sister
Maya", "Ann has two kids", "Ann usually cycles to work", "Ann swims every morning", "Ann wants to
learn Spanish". What follows the verb is kept only when it stands on its own: it is cut at the
first subordinate clause and dropped when it is long, points elsewhere ("loves it", "loves how…",
"takes them", "visit that place"), starts with a definite article for something only the
conversation shows ("loves the colours"), or is a date. Wishes ("would love to") and feelings
("usually feels…") give nothing.

Home, work, relationship status and age also come from the attribute slot the constructor gave
the fact (:mod:`agents.slots`), when the person is the one who lives, works, is or turned, and the
fact does not say the job or home was lost or left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = ["Facet", "Reading", "read_fact"]

Facet = Literal["is", "work", "home", "relation", "likes", "favourite", "dislikes", "habit", "aims"]


@dataclass(frozen=True)
class Reading:
    """One statement a fact makes about a person."""

    facet: Facet
    phrase: str
    """Without the person's name: ``likes hiking``, ``has a sister``, ``swims every morning``."""
    key: str
    """What readings merge on: the phrase casefolded, or the relation (``sister``)."""
    name: str | None = None
    """The relative's or pet's name a relation reading gives, if any."""


def _words(*groups: str) -> frozenset[str]:
    return frozenset(word for group in groups for word in group.split())


_ADV = r"(?:\s+(?:also|really|still|just|truly|absolutely|totally|definitely|now|currently))*"
_OBJ = r"(?P<obj>[^,.;:!?()]+)"
_LIKE = (
    r"loves|likes|enjoys|adores|prefers|is\s+(?:really\s+|so\s+|very\s+)?(?:into|passionate\s+"
    r"about|obsessed\s+with|fond\s+of|keen\s+on)|is\s+(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of|"
    r"has\s+(?:always\s+)?(?:had\s+)?a\s+(?:love|passion)\s+for"
)
_DISLIKE = (
    r"dislikes|hates|can't\s+stand|cannot\s+stand|doesn't\s+like|does\s+not\s+like|"
    r"is\s+not\s+a\s+fan\s+of|isn't\s+a\s+fan\s+of"
)
_WORK = (
    r"(?:works|is\s+working)\s+(?:as|at|in)\b|works\s+for\s+(?=[A-Z]|an?\s|the\s)|"
    r"volunteers\s+(?:as|at|with)\b|is\s+studying|studies|is\s+majoring\s+in|majored\s+in|"
    r"is\s+training\s+(?:as|to\s+be)|(?:runs|owns|manages)\s+(?=an?\s|\S+'s\s)"
)
_AIMS = (
    r"(?:wants|plans|hopes|is\s+planning|is\s+hoping|intends|is\s+saving\s+up)\s+to|"
    r"dreams\s+of|is\s+thinking\s+(?:of|about)"
)
_IDENTITY = (
    r"is\s+(?:(?:a|an)\s+(?P<noun>[a-z][\w-]*(?:\s+[a-z][\w-]*){0,2})(?=\s*(?:[,.;!?]|$|\s+"
    r"(?:at|for|in|who|from)\b))|allergic\s+to\s+[^,.;:!?]+|(?:a\s+)?(?:vegetarian|vegan))"
)
_RELATIVES = (
    r"sisters?|brothers?|siblings?|twin|sons?|daughters?|kids|children|child|baby|husband|wife|"
    r"partner|boyfriend|girlfriend|fianc[ée]e?|mom|mother|dad|father|parents|grandma|grandmother|"
    r"grandpa|grandfather|grandparents|aunt|uncle|niece|nephew|cousins?|friends?|best\s+friend|"
    r"dogs?|cats?|pets?|puppy|kitten"
)
_NAMED_ONLY = _words(
    "mom mother dad father parents grandma grandmother grandpa grandfather grandparents",
    "friend friends cousin cousins aunt uncle niece nephew",
) | {"best friend"}
"""Relations a profile gives only with a name: "has a mom" tells a reader nothing."""
_FREQ = r"usually|often|regularly|frequently|normally|typically|sometimes|tends\s+to"
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_PERIOD = (
    rf"(?:every|each)\s+(?:day|night|morning|evening|afternoon|week|weekend|month|year|summer|"
    rf"winter|spring|autumn|fall|{_DAY})s?|(?:once|twice|three\s+times)\s+a\s+(?:day|week|month|"
    rf"year)|on\s+(?:weekends|{_DAY}s)"
)
_BAD_START = _words(
    "it that this these those them him you me us how what when where why who whom which there",
    "here so such and or but is are was were be been has have had do does did can could will",
    "would should yesterday today tomorrow tonight now then last next",
)
"""An object starting with one of these points elsewhere, is no object, or is a date."""
_DEICTIC = _words("it them this these those that they here there his her their its")
"""An object naming one of these needs the conversation to be understood ("takes them…"); the
constructor writes the speaker's own "my" as their name, so "his" or "her" is someone else's."""
_CONTEXT_START = _words("the all both every each some any")
"""Unless a name follows, "the colours", "all the leaves" are things only the chat shows."""
_STATE_VERBS = _words(
    "is am are was were be been being feel feels felt has have had get gets got want wants",
    "think thinks thought wish wishes hope hopes doubt doubts wonder wonders worry worries",
)
"""Not habits: "usually feels…" is a mood, "sometimes doubts…" a thought."""
_VAGUE_NOUNS = _words("bit lot little kind sort part way fan reminder chance time thing moment")
"""Nouns after "is a" that say nothing about who someone is ("is a bit…", "is a huge fan")."""
_INTENSIFIERS = _words("huge big total great real true massive little")
_CUT = re.compile(
    r"\s+(?:because|since|but|so|which|who|whom|where|when|while|as\s+well|though|"
    r"although|and\s+(?:it|that|she|he|they)|lately|nowadays|anymore|these\s+days|too|now|then)"
    r"\b.*$",
    re.IGNORECASE,
)
_MAX_WORDS = 8
_SLOT_VERBS = {
    "lives_in": r"live|lives|lived|living|moved|moves|moving|relocated|settled",
    "job": r"job|work|works|working|worked|employed",
    "relationship": r"is|got|getting",
    "age": r"is|turned|turning",
}
_LOST = re.compile(
    r"\b(?:lost|quit|left|leaving|fired|laid\s+off|former|ex|old|previous|used\s+to)\b", re.I
)


@lru_cache(maxsize=65536)
def read_fact(person: str, text: str, slot: tuple[str, str] | None = None) -> tuple[Reading, ...]:
    """Every statement ``text`` makes about ``person``; ``slot`` is the fact's attribute slot.

    Memoised: each reflection reads every fact about a person again, and most were read before.
    """
    name = re.escape(person)
    subject = rf"(?<![\w'-]){name}{_ADV}\s+"
    text = " ".join(text.split())
    found = [
        *_simple("likes", "likes", rf"{subject}(?:{_LIKE})\s+{_OBJ}", text),
        *_simple("dislikes", "dislikes", rf"{subject}(?:{_DISLIKE})\s+{_OBJ}", text),
        *_simple("work", None, rf"{subject}(?P<lead>{_WORK})\s*{_OBJ}", text),
        *_simple("aims", None, rf"{subject}(?P<lead>{_AIMS})\s+{_OBJ}", text, least=2),
        *_favourites(name, text),
        *_identities(subject, text),
        *_relations(person, text),
        *_habits(subject, text),
    ]
    if slot is not None:
        found += _from_slot(person, text, slot, found)
    return tuple(dict.fromkeys(found))


def _clean(obj: str) -> str | None:
    """The object cut at its first subordinate clause; None when it cannot stand on its own."""
    obj = _CUT.sub("", obj).strip(" -'\"")
    words = obj.split()
    if not words or len(words) > _MAX_WORDS:
        return None
    lowered = [w.casefold() for w in words]
    if lowered[0] in _BAD_START or _DEICTIC.intersection(lowered):
        return None
    if lowered[0] in _CONTEXT_START and not (len(words) > 1 and words[1][:1].isupper()):
        return None
    return obj


def _reading(facet: Facet, phrase: str) -> Reading:
    return Reading(facet, phrase, phrase.casefold())


def _simple(
    facet: Facet, verb: str | None, pattern: str, text: str, least: int = 1
) -> list[Reading]:
    """``verb object`` (or the matched lead and the object) for every match of ``pattern`` whose
    object has at least ``least`` words ("wants to visit" names no place)."""
    found = []
    for match in re.finditer(pattern, text):
        obj = _clean(match.group("obj"))
        if obj is not None and len(obj.split()) >= least:
            lead = verb or " ".join(match.group("lead").split())
            found.append(_reading(facet, f"{lead} {obj}"))
    return found


def _favourites(name: str, text: str) -> list[Reading]:
    pattern = (
        rf"(?<![\w'-]){name}'s\s+(?:all-time\s+)?favou?rite\s+(?P<what>[a-z][\w-]*(?:\s+[a-z]"
        rf"[\w-]*)?)\s+(?:is|are|was|were|has\s+to\s+be)\s+{_OBJ}"
    )
    found = []
    for match in re.finditer(pattern, text):
        obj = _clean(match.group("obj"))
        if obj is not None:
            found.append(_reading("favourite", f"favourite {match.group('what')}: {obj}"))
    return found


def _identities(subject: str, text: str) -> list[Reading]:
    found = []
    for match in re.finditer(rf"{subject}(?P<what>{_IDENTITY})", text):
        noun = [w for w in (match.group("noun") or "").split() if w not in _INTENSIFIERS]
        if match.group("noun") is not None and (not noun or noun[-1] in _VAGUE_NOUNS):
            continue
        phrase = _clean(" ".join(match.group("what").split()))
        if phrase is not None:
            found.append(_reading("is", phrase))
    return found


def _relations(person: str, text: str) -> list[Reading]:
    name, found = re.escape(person), []
    possessive = (
        rf"(?<![\w'-]){name}'s\s+(?:(?:older|younger|little|big|baby|twin|new|late)\s+)?"
        rf"(?P<rel>{_RELATIVES})\b(?!-)(?:\s+(?P<who>[A-Z][a-z]+)\b)?"
    )
    for match in re.finditer(possessive, text):
        rel, who = " ".join(match.group("rel").split()).casefold(), match.group("who")
        if who is not None and who.casefold() == person.casefold():
            who = None
        if who is None and rel in _NAMED_ONLY:
            continue
        found.append(_relation(rel, who))
    count = r"(?:a|an|one|two|three|four|five|\d+)"
    having = rf"(?<![\w'-]){name}{_ADV}\s+has\s+(?P<n>{count})\s+(?P<rel>{_RELATIVES})\b"
    for match in re.finditer(having, text):
        rel = " ".join(match.group("rel").split()).casefold()
        if rel not in _NAMED_ONLY:
            found.append(_relation(rel, None, count=match.group("n").casefold()))
    return found


def _relation(rel: str, who: str | None, count: str | None = None) -> Reading:
    """``has a sister`` / ``has kids`` / ``has two dogs``, merged on the singular relation."""
    if rel == "children":
        single = "child"
    elif rel.endswith("s") and rel != "parents":
        single = rel.removesuffix("s")
    else:
        single = rel
    article = count or ("" if rel != single or rel == "parents" else "a")
    phrase = " ".join(p for p in ("has", article, rel) if p)
    return Reading("relation", phrase, single, who)


def _habits(subject: str, text: str) -> list[Reading]:
    found = []
    frequent = rf"{subject}(?P<lead>{_FREQ})\s+(?P<verb>[a-z]+)\s*(?P<obj>[^,.;:!?()]*)"
    for match in re.finditer(frequent, text):
        rest = _clean(f"{match.group('verb')} {match.group('obj')}")
        if match.group("verb") not in _STATE_VERBS and rest is not None:
            found.append(_reading("habit", f"{' '.join(match.group('lead').split())} {rest}"))
    periodic = rf"{subject}(?P<verb>[a-z]+s)\b(?P<obj>[^,.;:!?()]*?\b(?:{_PERIOD}))"
    for match in re.finditer(periodic, text):
        words = f"{match.group('verb')}{match.group('obj')}".split()
        deictic = _DEICTIC.intersection(w.casefold() for w in words)
        if match.group("verb") not in _STATE_VERBS and not deictic and len(words) <= 10:
            found.append(_reading("habit", " ".join(words)))
    return found


def _from_slot(
    person: str, text: str, slot: tuple[str, str], found: list[Reading]
) -> list[Reading]:
    """Home, work, relationship status or age from the fact's slot, when it is the person's."""
    subject, _, attribute = slot[0].partition("|")
    verbs = _SLOT_VERBS.get(attribute)
    if subject != person.casefold() or verbs is None or _LOST.search(text):
        return []
    between = r"(?:(?!(?:it|that|this|they|he|she)\b)[\w'-]+\s+){0,3}?"
    if not re.search(rf"(?<![\w'-]){re.escape(person)}(?:'s)?\s+{between}(?:{verbs})\b", text):
        return []
    shown = re.search(rf"\b(?P<prep>as|at|for|in|to)\s+(?P<v>{re.escape(slot[1])})", text, re.I)
    value = shown.group("v") if shown else slot[1]
    if value.casefold().startswith(person.casefold()):
        return []
    if attribute == "lives_in":
        return [_reading("home", f"lives in {value}")]
    if attribute == "relationship":
        return [_reading("is", f"is {value.casefold()}")]
    if attribute == "age":
        return [_reading("is", f"is {value} years old")]
    if shown and not any(r.facet == "work" for r in found):
        return [_reading("work", f"works {shown.group('prep').casefold()} {value}")]
    return []
