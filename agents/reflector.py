"""Reflector: consolidates facts into insights (scenes) and a persona profile per speaker.

Off the hot path — at the end of a session, every N new facts, or on demand. Deterministically it
clusters a namespace's current facts by embedding similarity (single-pass centroid clustering)
and writes each cluster of three or more facts as an *insight*: an extractive digest of its facts,
``kind=inference``, linked to them (``derived_from``) and to their source turns (``provenance``). A
*persona* per speaker states what that speaker's own facts say they like, are, do and whom they
have (:mod:`agents.persona`), linked to the facts each statement was read from. Its proposals go
through the same judge gate as everything else: an insight supersedes only an insight it restates
or contradicts (:mod:`agents.restate`), so insights accumulate; a speaker's new persona
supersedes their previous one; an inference never overwrites evidence.

Only what people said about what stands is generalised (:func:`admissible`): the assistant's own
statements, claims that lose to someone's own statement, text that reads as an instruction to the
assistant or as talk about its memory, and whatever came in a message that tries to override the
memory stay plain evidence; a model-worded insight or persona
that reads as an instruction is dropped.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from agents._steps import clock, step
from agents.context import RunContext
from agents.persona import profile_text, statements
from agents.slots import slot_of
from agents.state import WriteState
from agents.trust import is_injection, is_instruction, prevailing, said_by_of
from memory.llm import LLMCall, LLMClient
from memory.model import (
    Granularity,
    MemoryUnit,
    Namespace,
    SaidBy,
    UnitFilter,
    UnitKind,
    make_unit,
)
from prompts.reflector import INSIGHT, PERSONA, Insight, PersonaProfile

__all__ = ["admissible", "cluster", "propose_reflections", "reflector"]

MIN_CLUSTER = 3
MAX_CLUSTER_FACTS = 6
MAX_LLM_CLUSTERS = 5
LINK_SIMILARITY = 0.55


def reflector(state: WriteState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Propose insight and persona units for the judge gate."""
    ctx = runtime.context
    with clock() as timer:
        every = ctx.store.units(
            ctx.namespace, UnitFilter(granularities=frozenset({Granularity.FACT}))
        )
        injected = {t.id for t in ctx.store.turns(ctx.namespace) if is_injection(t.text)}
        facts = admissible(every, injected)
        current = sum(f.is_current for f in every)
        vectors = ctx.store.unit_vectors(ctx.namespace, facts) if facts else np.zeros((0, 1))
        llm = ctx.llm if ctx.use_llm else None
        proposals, calls, fallbacks = propose_reflections(ctx.namespace, facts, vectors, llm)
    return {
        "proposed": [u.model_dump(mode="json") for u in proposals],
        "reflect": False,
        "reflect_done": True,
        "trace": [
            step(
                "reflector",
                f"proposed {len(proposals)} reflections from {len(facts)} facts",
                f"clusters of ≥{MIN_CLUSTER} facts at cosine ≥{LINK_SIMILARITY}; "
                f"one persona per speaker; {current - len(facts)} current facts left out "
                "(the assistant's, disputed, from a disputing source, or instruction-like)",
                timer=timer,
                calls=calls,
                fallback="; ".join(fallbacks) or None,
                inputs={"facts": current, "admissible": len(facts)},
                outputs={
                    "insights": sum(u.granularity == Granularity.INSIGHT for u in proposals),
                    "personas": sum(u.granularity == Granularity.PERSONA for u in proposals),
                },
            )
        ],
    }


def admissible(
    facts: Sequence[MemoryUnit], injected: AbstractSet[str] = frozenset()
) -> list[MemoryUnit]:
    """The current facts of ``facts`` (current and closed) that reflection may generalise.

    Left out: the assistant's statements; claims that lose to the statement standing on their
    attribute; instruction-like text; facts from a turn in ``injected`` (messages that try to
    override the memory); and whatever a speaker says about someone after that speaker's claims
    about them were flagged as disputes — who contradicts a person's own statement is no source
    for generalising about that person.
    """
    current = [f for f in facts if f.is_current]
    by_slot: dict[str, list[MemoryUnit]] = {}
    for fact in current:
        slot = slot_of(fact)
        if slot is not None:
            by_slot.setdefault(slot[0], []).append(fact)
    standing = {key: slot_of(prevailing(group)) for key, group in by_slot.items()}
    suspect = {_source(f) for f in facts if f.disputes is not None}
    return [
        f
        for f in current
        if said_by_of(f) is not SaidBy.ASSISTANT
        and not is_instruction(f.text)
        and injected.isdisjoint(f.provenance)
        and ((slot := slot_of(f)) is None or standing.get(slot[0]) == slot)
        and _source(f) not in suspect
    ]


def _source(fact: MemoryUnit) -> tuple[str | None, str | None]:
    """Who said a fact and whom it is about (its first entity)."""
    return fact.speaker, fact.entities[0].casefold() if fact.entities else None


def propose_reflections(
    ns: Namespace,
    facts: Sequence[MemoryUnit],
    vectors: np.ndarray,
    llm: LLMClient | None = None,
) -> tuple[list[MemoryUnit], list[LLMCall], list[str]]:
    """Insight units for fact clusters and a persona unit per speaker.

    ``facts`` are the ones reflection may use (the node passes :func:`admissible` facts), with
    their ``vectors``. With ``llm`` the model words each insight (``reflector.insight``, for the
    largest ``MAX_LLM_CLUSTERS`` clusters) and each persona (``reflector.persona``); the units keep
    the deterministic links to their evidence, and a failed call, or wording that reads as an
    instruction, falls back to the extractive text. No proposal that reads as one is returned.
    """
    proposals: list[MemoryUnit] = []
    calls: list[LLMCall] = []
    fallbacks: list[str] = []
    clusters = [c for c in cluster(vectors, LINK_SIMILARITY) if len(c) >= MIN_CLUSTER]
    clusters.sort(key=len, reverse=True)
    for rank, members in enumerate(clusters):
        chosen = sorted((facts[i] for i in members), key=lambda f: -f.importance)
        chosen = sorted(chosen[:MAX_CLUSTER_FACTS], key=lambda f: f.event_time or f.recorded_at)
        unit = _digest(ns, chosen, Granularity.INSIGHT)
        if llm is not None and rank < MAX_LLM_CLUSTERS:
            unit = _worded_insight(llm, unit, chosen, calls, fallbacks)
        proposals.append(unit)
    proposals = [u for u in proposals if not is_instruction(u.text)]
    by_speaker: dict[str, list[MemoryUnit]] = {}
    for fact in facts:
        if fact.speaker:
            by_speaker.setdefault(fact.speaker, []).append(fact)
    for speaker, own in sorted(by_speaker.items()):
        persona = _persona(ns, speaker, own)
        if persona is not None and llm is not None:
            persona = _worded_persona(llm, persona, speaker, own, calls, fallbacks)
        if persona is not None and not is_instruction(persona.text):
            proposals.append(persona)
    return proposals, calls, fallbacks


def _worded_insight(
    llm: LLMClient,
    unit: MemoryUnit,
    facts: Sequence[MemoryUnit],
    calls: list[LLMCall],
    fallbacks: list[str],
) -> MemoryUnit:
    value, call, fallback = INSIGHT.run(llm, list(facts), fallback=lambda: Insight(text=unit.text))
    calls.extend([call] if call else [])
    if fallback is not None:
        fallbacks.append(fallback)
        return unit
    if is_instruction(value.text):
        fallbacks.append("reflector.insight worded an instruction; kept the extractive digest")
        return unit
    cited = [f for f in facts if f.id in set(value.source_ids)] or list(facts)
    return _rewritten(unit, value.text, cited)


def _worded_persona(
    llm: LLMClient,
    unit: MemoryUnit,
    speaker: str,
    facts: Sequence[MemoryUnit],
    calls: list[LLMCall],
    fallbacks: list[str],
) -> MemoryUnit:
    sources = [f for f in facts if f.id in set(unit.derived_from)]
    value, call, fallback = PERSONA.run(
        llm, sources, person=speaker, fallback=lambda: PersonaProfile(summary=unit.text)
    )
    calls.extend([call] if call else [])
    if fallback is not None:
        fallbacks.append(fallback)
        return unit
    traits = f" Traits: {', '.join(value.traits)}." if value.traits else ""
    text = f"{value.summary.strip()}{traits}"
    if is_instruction(text):
        fallbacks.append("reflector.persona worded an instruction; kept the extracted profile")
        return unit
    cited = [f for f in sources if f.id in set(value.source_ids)] or sources
    return _rewritten(unit, text, cited, keep_provenance=False)


def _rewritten(
    unit: MemoryUnit, text: str, facts: Sequence[MemoryUnit], *, keep_provenance: bool = True
) -> MemoryUnit:
    """The unit with model-written text, re-identified, still linked to the facts it cites."""
    if not text.strip():
        return unit
    return make_unit(
        unit.namespace,
        unit.granularity,
        text.strip(),
        kind=UnitKind.INFERENCE,
        provenance=[p for f in facts for p in f.provenance] if keep_provenance else [],
        derived_from=tuple(f.id for f in facts),
        entities=unit.entities,
        attribute=unit.attribute,
        speaker=unit.speaker,
        event_time=unit.event_time,
        importance=unit.importance,
    )


def cluster(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Single-pass centroid clustering: each vector joins the closest cluster at ≥ ``threshold``.

    Linear in the number of vectors times clusters, so reflection stays cheap as memory grows.
    The centroids live in one float64 matrix that grows by doubling: stacking them anew for every
    vector cost more than comparing against them. Reflection re-clusters every admissible fact, so
    the loop is kept lean (the vectors cast once, the norm taken as a dot product).
    """
    rows = np.asarray(vectors, dtype=np.float64)
    centroids = np.empty((8, rows.shape[-1]))
    members: list[list[int]] = []
    for i, vector in enumerate(rows):
        count = len(members)
        if count:
            sims = centroids[:count] @ vector
            best = int(sims.argmax())
            if sims[best] >= threshold:
                group = members[best]
                group.append(i)
                total = centroids[best] * (len(group) - 1) + vector
                centroids[best] = total / math.sqrt(total @ total)
                continue
        if count == len(centroids):
            centroids = np.concatenate([centroids, np.empty_like(centroids)])
        centroids[count] = vector
        members.append([i])
    return members


def _digest(ns: Namespace, facts: Sequence[MemoryUnit], granularity: Granularity) -> MemoryUnit:
    entities = Counter(e for f in facts for e in f.entities)
    subject = entities.most_common(1)[0][0] if entities else "memory"
    text = f"About {subject}: " + " ".join(_sentence(f.text) for f in facts)
    return make_unit(
        ns,
        granularity,
        text,
        kind=UnitKind.INFERENCE,
        provenance=[p for f in facts for p in f.provenance],
        derived_from=tuple(f.id for f in facts),
        entities=tuple(e for e, _ in entities.most_common(8)),
        event_time=facts[-1].event_time,
        importance=min(1.0, max(f.importance for f in facts) + 0.1),
    )


def _persona(ns: Namespace, speaker: str, facts: Sequence[MemoryUnit]) -> MemoryUnit | None:
    """The speaker's profile from their own facts; None when they state nothing it can use."""
    found = statements(speaker, facts)
    if not found:
        return None
    text = profile_text(speaker, found)
    return make_unit(
        ns,
        Granularity.PERSONA,
        text,
        kind=UnitKind.INFERENCE,
        derived_from=tuple(dict.fromkeys(i for s in found for i in s.sources)),
        entities=(speaker,),
        attribute=f"persona={hashlib.sha1(text.encode()).hexdigest()[:12]}",
        speaker=speaker,
        importance=0.6,
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
