"""Constructor: turns → memory units at several granularities, with provenance, entities and dates.

For each batch of turns it builds
- one **turn** unit per turn (entities, keyphrases, the session's time),
- **fact** units: atomic, self-contained statements ("I" resolved to the speaker), each with the
  absolute date of what it describes — relative dates ("yesterday") are resolved against the
  *session's* date, never the processing time — the attribute slot it sets, if any, and who said
  it relative to whom it is about (:mod:`agents.trust`); text that reads as an instruction to the
  assistant, and every fact of a message that tries to override the memory, sets no slot,
- **session** segment units when a session ends: contiguous, topically coherent turn ranges.

Deterministic mode uses :mod:`agents.analysis`; LLM mode asks ``constructor.facts`` for the facts
and falls back, loudly, to the deterministic extraction when the model fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Any

from langgraph.runtime import Runtime

from agents._steps import clock, step
from agents.analysis import (
    atomic_facts,
    extract_entities,
    keyphrases,
    resolve_dates,
    segment_session,
)
from agents.context import RunContext
from agents.slots import detect_slot, fact_subject
from agents.state import WriteState
from agents.trust import is_injection, is_instruction, said_by
from memory.changes import turn_unit_text
from memory.llm import LLMCall
from memory.model import MAX_TEXT_CHARS, Granularity, MemoryUnit, Namespace, Turn, make_unit
from memory.store import turn_unit
from prompts.constructor import FACTS, ExtractedFact, FactList

__all__ = [
    "build_facts",
    "build_segments",
    "build_turn_units",
    "constructor",
    "split_clauses",
    "unit_texts",
]

MAX_SEGMENT_TURNS = 8


def constructor(state: WriteState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Build the units of this write from its turns."""
    ctx = runtime.context
    ns = ctx.namespace
    turns = [Turn.model_validate(t) for t in state.get("turns", [])]
    with clock() as timer:
        speakers = sorted({t.speaker for t in turns})
        units = build_turn_units(ns, turns, speakers)
        facts, calls, fallback = _facts(ctx, turns, speakers)
        units += facts
        if state.get("session_end"):
            for session_id in dict.fromkeys(t.session_id for t in turns):
                units += build_segments(ns, ctx.store.turns(ns, session_id=session_id))
    by_gran = {g.value: sum(u.granularity == g for u in units) for g in Granularity}
    return {
        "proposed": [u.model_dump(mode="json") for u in units],
        "trace": [
            step(
                "constructor",
                f"proposed {len(units)} units",
                "turn units for every turn, atomic facts with absolute dates, "
                "segments when a session ends",
                timer=timer,
                calls=calls,
                fallback=fallback,
                inputs={"turns": len(turns), "session_end": bool(state.get("session_end"))},
                outputs={"by_granularity": {k: v for k, v in by_gran.items() if v}},
            )
        ],
    }


def build_turn_units(
    ns: Namespace, turns: Sequence[Turn], speakers: Sequence[str]
) -> list[MemoryUnit]:
    """One unit per turn, with its entities and keyphrases."""
    known = _names(turns, speakers)
    units = []
    for turn in turns:
        text = turn.text if not turn.image_caption else f"{turn.text} {turn.image_caption}"
        entities = tuple(dict.fromkeys([turn.speaker, *extract_entities(text, known=known)]))
        units.append(
            turn_unit(
                ns,
                turn,
                entities=entities,
                keywords=tuple(keyphrases(text, k=6)),
                said_by=said_by(turn.speaker, turn.role, None),
            )
        )
    return units


def build_facts(ns: Namespace, turns: Sequence[Turn], speakers: Sequence[str]) -> list[MemoryUnit]:
    """Deterministic atomic facts with absolute dates and attribute slots."""
    known = _names(turns, speakers)
    facts: list[MemoryUnit] = []
    for turn in turns:
        untrusted = is_injection(turn.text)
        for sentence in _fact_sentences(turn, speakers):
            entities = tuple(dict.fromkeys(extract_entities(sentence, known=known)))
            facts.append(
                _fact_unit(
                    ns,
                    turn,
                    sentence,
                    entities,
                    _event_time(sentence, turn.session_time),
                    importance=_importance(entities),
                    untrusted=untrusted,
                )
            )
    return _unique(facts)


def split_clauses(sentence: str, names: Sequence[str]) -> list[str]:
    """A compound fact cut where a named subject starts a new clause.

    "Sam moved to Boston and Sam works at Mass General" → two facts, so that each can set (and
    later update) its own attribute slot.
    """
    if not names:
        return [sentence]
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    parts = re.split(rf",?\s+(?:and|but)\s+(?=(?:{alternatives})\b)", sentence)
    clauses = [p.strip() for p in parts if p.strip()]
    return (
        [c if c.endswith((".", "!", "?")) else c + "." for c in clauses]
        if len(clauses) > 1
        else [sentence]
    )


def build_segments(ns: Namespace, session_turns: Sequence[Turn]) -> list[MemoryUnit]:
    """Topically coherent turn ranges of one session, as session-granularity units."""
    units = []
    for chunk in _segments(session_turns):
        lines = _segment_text(chunk)
        first = chunk[0]
        units.append(
            make_unit(
                ns,
                Granularity.SESSION,
                lines,
                provenance=[t.id for t in chunk],
                session_id=first.session_id,
                event_time=first.session_time,
                entities=tuple(dict.fromkeys(t.speaker for t in chunk)),
                keywords=tuple(keyphrases(lines, k=8)),
                importance=0.4,
            )
        )
    return units


def unit_texts(session_turns: Sequence[Turn], *, facts: bool = True) -> list[str]:
    """The texts the deterministic constructor gives the units of a whole session written at
    once that the store embeds (turns, then facts unless ``facts`` is false; a segment's vector
    is its turns' mean), without building the units: what a bulk import embeds ahead of the
    write. May repeat a text."""
    turns = list(session_turns)
    speakers = sorted({t.speaker for t in turns})
    texts = [turn_unit_text(t) for t in turns]
    if facts:
        texts += [sentence for t in turns for sentence in _fact_sentences(t, speakers)]
    return texts


def _fact_sentences(turn: Turn, speakers: Sequence[str]) -> list[str]:
    """The atomic fact sentences of one turn, each clause on its own, "you" resolved to the
    other speaker of the batch."""
    listener = next((s for s in speakers if s != turn.speaker), None)
    return list(_clauses_of(turn.text, turn.speaker, listener, turn.session_time, tuple(speakers)))


@lru_cache(maxsize=2048)
def _clauses_of(
    text: str,
    speaker: str,
    listener: str | None,
    reference: datetime | None,
    speakers: tuple[str, ...],
) -> tuple[str, ...]:
    """:func:`_fact_sentences` on plain values, remembered: a bulk import asks for each turn's
    sentences twice (to embed them ahead, then to build the facts), and they cost a tenth of
    the write path's own work. The cache outlives one import's windows in flight."""
    sentences = atomic_facts(text, speaker, listener=listener, reference=reference)
    return tuple(clause for s in sentences for clause in split_clauses(s, speakers))


def _segments(session_turns: Sequence[Turn]) -> list[Sequence[Turn]]:
    """The turn runs of one session that become segments: topically coherent, within a unit's
    text limit, at least two turns each."""
    if len(session_turns) < 2:
        return []
    spans = segment_session([t.text for t in session_turns], None, max_turns=MAX_SEGMENT_TURNS)
    runs = (c for s, e in spans for c in _within_limit(session_turns[s:e]))
    return [run for run in runs if len(run) >= 2]


def _segment_text(chunk: Sequence[Turn]) -> str:
    return "\n".join(f"{t.speaker}: {t.text}" for t in chunk)


def _within_limit(chunk: Sequence[Turn]) -> list[Sequence[Turn]]:
    """``chunk`` cut, in order, into runs whose segment text fits a unit (very long turns)."""
    runs: list[Sequence[Turn]] = []
    start = 0
    for end in range(1, len(chunk) + 1):
        if len(_segment_text(chunk[start:end])) > MAX_TEXT_CHARS:
            if end - 1 > start:
                runs.append(chunk[start : end - 1])
            start = end - 1
    runs.append(chunk[start:])
    return runs


def _facts(
    ctx: RunContext, turns: Sequence[Turn], speakers: Sequence[str]
) -> tuple[list[MemoryUnit], list[LLMCall], str | None]:
    ns = ctx.namespace
    if not ctx.use_llm or not turns:
        return build_facts(ns, turns, speakers), [], None
    session_time = next((t.session_time for t in turns if t.session_time), None)
    value, call, fallback = FACTS.run(
        ctx.llm, list(turns), session_date=session_time, fallback=lambda: FactList(facts=[])
    )
    calls = [call] if call else []
    if fallback is not None:
        return build_facts(ns, turns, speakers), calls, fallback
    by_id = {t.id: t for t in turns}
    facts = [u for f in value.facts if (u := _llm_fact(ns, f, by_id)) is not None]
    return _unique(facts), calls, None


def _llm_fact(ns: Namespace, fact: ExtractedFact, by_id: dict[str, Turn]) -> MemoryUnit | None:
    """A unit from a model-extracted fact; facts citing no turn of this batch are dropped."""
    sources = [by_id[s] for s in fact.source_turn_ids if s in by_id]
    if not sources or not fact.text.strip():
        return None
    event_time = sources[0].session_time
    if fact.event_date:
        try:
            day = datetime.fromisoformat(fact.event_date).date()
            event_time = datetime.combine(day, time(12), tzinfo=UTC)
        except ValueError:
            pass
    entities = tuple(
        dict.fromkeys([*fact.entities, fact.subject] if fact.subject else fact.entities)
    )
    return _fact_unit(
        ns,
        sources[0],
        fact.text,
        entities,
        event_time,
        importance=fact.importance,
        provenance=[s.id for s in sources],
        untrusted=any(is_injection(s.text) for s in sources),
    )


def _fact_unit(
    ns: Namespace,
    turn: Turn,
    text: str,
    entities: tuple[str, ...],
    event_time: datetime | None,
    *,
    importance: float,
    provenance: Sequence[str] | None = None,
    untrusted: bool = False,
) -> MemoryUnit:
    """A fact unit; instruction-like text, or any text of an ``untrusted`` message (one that
    tries to override the memory), sets no slot."""
    subject = fact_subject(text, turn.speaker, entities)
    slot = None if untrusted or is_instruction(text) else detect_slot(text, subject)
    if subject and subject not in entities:
        entities = (subject, *entities)
    return make_unit(
        ns,
        Granularity.FACT,
        text,
        provenance=provenance or [turn.id],
        session_id=turn.session_id,
        speaker=turn.speaker,
        said_by=said_by(turn.speaker, turn.role, subject),
        event_time=event_time,
        entities=entities,
        keywords=tuple(keyphrases(text, k=5)),
        attribute=f"{slot.attribute}={slot.value}" if slot else None,
        importance=max(0.0, min(1.0, importance)),
        # valid time, not transaction time: a fact holds from when it happened
        **({"valid_from": event_time} if event_time is not None else {}),
    )


def _event_time(sentence: str, session_time: datetime | None) -> datetime | None:
    """When a fact happened: the first date it names (resolved against the session), else the
    session's own time."""
    if session_time is None:
        return None
    mentions = resolve_dates(sentence, session_time)
    if mentions:
        return datetime.combine(mentions[0].start, time(12), tzinfo=UTC)
    return session_time


def _names(turns: Sequence[Turn], speakers: Sequence[str]) -> list[str]:
    """Speakers and every proper name found anywhere in the batch.

    A name that opens a sentence ("Maya works at…") is only recognised as one when it is known,
    so names are collected over the whole batch first.
    """
    names = dict.fromkeys(speakers)
    for turn in turns:
        for entity in extract_entities(turn.text, known=speakers, topics=0):
            if entity[:1].isupper():
                names.setdefault(entity)
    return list(names)


def _importance(entities: tuple[str, ...]) -> float:
    """More named things → more likely worth remembering; bounded to [0.3, 0.9]."""
    return min(0.9, 0.3 + 0.15 * len(entities))


def _unique(units: list[MemoryUnit]) -> list[MemoryUnit]:
    return list({u.id: u for u in units}.values())
