"""Is the packed evidence enough? The read-path judge's deterministic tests and refinement.

Evidence is ``sufficient`` when it mentions every name in the question (and carries a date when
the question asks when). Otherwise it is ``insufficient``, and a refined query for another pass
adds the names the best evidence introduces — the bridge of a multi-hop question — plus the
question's words the evidence does not cover yet. A question that names someone by a relation
("the person who…") gets one such bridging pass even when every name is covered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agents.analysis import content_tokens
from agents.results import Evidence, Verdict
from agents.retrieval import cached_query_analysis
from agents.slots import current_slot_holders, slot_of
from memory.model import Granularity, MemoryUnit, Namespace
from memory.store import MemoryStore

__all__ = ["Sufficiency", "find_conflicts", "judge_sufficiency", "refine_query"]

_RELATIVE_CLAUSE = re.compile(
    r"\b(?:person|one|friend|people|someone|man|woman)\s+(?:who|that|whose)\b", re.IGNORECASE
)
"""A question that names someone by a relation ("the person who…"): worth a bridging pass."""


@dataclass(frozen=True)
class Sufficiency:
    """A verdict, why, and the query of the next pass when evidence is insufficient."""

    verdict: Verdict
    reason: str
    refined: str | None = None


def judge_sufficiency(
    question: str, query: str, evidence: Sequence[Evidence], units: Mapping[str, MemoryUnit]
) -> Sufficiency:
    """The deterministic verdict on ``evidence`` for ``question`` (``query``: this pass's text)."""
    if not evidence:
        return Sufficiency("insufficient", "no evidence found")
    analysis = cached_query_analysis(question)
    text = " ".join(e.text for e in evidence).casefold()
    names = [e for e in analysis.entities if e[:1].isupper()]
    missing = [e for e in names if e.casefold() not in text]
    if analysis.temporal and not any(e.event_time is not None for e in evidence):
        return Sufficiency("insufficient", "the question asks when, and no evidence is dated")
    if missing:
        refined = refine_query(question, query, evidence, analysis.entities, units)
        return Sufficiency("insufficient", f"evidence never mentions {', '.join(missing)}", refined)
    if _RELATIVE_CLAUSE.search(question) and query == question:
        refined = refine_query(question, query, evidence, analysis.entities, units)
        if refined:
            reason = "the question describes someone by a relation: following it"
            return Sufficiency("insufficient", reason, refined)
    named = ", ".join(names) or "none named"
    return Sufficiency("sufficient", f"evidence mentions every name in the question ({named})")


def refine_query(
    question: str,
    query: str,
    evidence: Sequence[Evidence],
    entities: Sequence[str],
    units: Mapping[str, MemoryUnit],
) -> str | None:
    """A follow-up query: the names the best evidence introduces (the bridge of a multi-hop)
    plus the question's words that evidence does not cover yet.

    "Where does the person who helped Sam pick Biscuit work?" with "Sam's sister Maya helped Sam
    pick him" on top becomes "Maya where person work biscuit".
    """
    seen = {e.casefold() for e in entities} | set(query.casefold().split())
    for item in evidence[:3]:
        unit = units.get(item.unit_id)
        names = [
            n
            for n in (unit.entities if unit else ())
            if n[:1].isupper() and n.casefold() not in seen
        ]
        if not names:
            continue
        covered = set(content_tokens(item.text))
        rest = [w for w in dict.fromkeys(content_tokens(question)) if w not in covered]
        return " ".join([*names[:2], *rest])
    return None


def find_conflicts(store: MemoryStore, ns: Namespace, unit_ids: Sequence[str]) -> list[list[str]]:
    """For each slot the given units state, every current fact of that slot when they disagree.

    A unit states a slot when it is a fact setting it, or a turn or segment from which a current
    fact setting it was built. The rivals come from the whole namespace, not only from
    ``unit_ids``: a flagged claim must not pass as the only fact of its slot because the
    statement it contradicts ranked lower.
    """
    units = [u for u in store.get(ns, list(unit_ids), access=False) if u.is_current]
    if not units:
        return []
    holders = current_slot_holders(store, ns)
    sources = {p for u in units for p in u.provenance}
    keys = {slot[0] for u in units if u.granularity == Granularity.FACT and (slot := slot_of(u))}
    for key, group in holders.items():
        if any(sources.intersection(u.provenance) for u in group):
            keys.add(key)
    groups = []
    for key in sorted(keys):
        group = holders.get(key, ())
        if len({slot_of(u) for u in group}) > 1:
            groups.append(sorted(u.id for u in group))
    return groups
