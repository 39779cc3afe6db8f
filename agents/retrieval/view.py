"""A namespace's current units as the retriever reads them: BM25, names, neighbours, tokens.

Built from the store's current units and journaled turns, and kept in the store's cache of derived
values, so it is rebuilt only after the namespace changes and goes away with the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np

from agents.analysis import content_tokens
from agents.retrieval.present import present
from agents.retrieval.types import Hit
from memory.model import Granularity, MemoryUnit, Namespace, Turn
from memory.store import MemoryStore
from memory.tokens import count_tokens

__all__ = ["NamespaceView", "build_view", "view_for"]


@dataclass
class NamespaceView:
    """BM25 and token counts over one namespace's current units."""

    units: Mapping[str, MemoryUnit]
    order: list[str]
    """Unit ids in BM25 document order."""
    bm25: bm25s.BM25 | None
    names: tuple[str, ...] = ()
    """Speakers and proper names mentioned anywhere in the namespace (for query analysis)."""
    adjacent: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Turn unit id → the turn units just before and after it in the same session."""
    turn_units: dict[str, str] = field(default_factory=dict)
    """Source turn id → the id of its turn unit."""
    tokens: dict[str, int] = field(default_factory=dict)

    def lexical(self, query: str, k: int, allowed: frozenset[Granularity]) -> list[Hit]:
        """Top-``k`` units of the ``allowed`` granularities by BM25 score (positive scores only)."""
        terms = content_tokens(query)
        if self.bm25 is None or not terms:
            return []
        known = [t for t in terms if t in self.bm25.vocab_dict]
        if not known:
            return []
        scores = self.bm25.get_scores(known)
        if len(allowed) < len(Granularity):
            mask = np.fromiter(
                (self.units[i].granularity in allowed for i in self.order), bool, len(self.order)
            )
            scores = np.where(mask, scores, 0.0)
        top = min(k, int(np.count_nonzero(scores > 0)))
        if top == 0:
            return []
        idx = np.argpartition(-scores, top - 1)[:top]
        idx = idx[np.argsort(-scores[idx])]
        return [Hit(self.order[i], float(scores[i])) for i in idx]

    def token_count(self, unit: MemoryUnit) -> int:
        """Tokens of the unit as presented in a prompt (memoised)."""
        if unit.id not in self.tokens:
            self.tokens[unit.id] = count_tokens(present(unit))
        return self.tokens[unit.id]


def view_for(store: MemoryStore, ns: Namespace) -> NamespaceView:
    """The view of a namespace, rebuilt only when the store has changed it."""
    return store.derived(
        ns, "retrieval.view", lambda: build_view(store.current_units(ns), store.turns(ns))
    )


def build_view(units: Mapping[str, MemoryUnit], turns: Sequence[Turn]) -> NamespaceView:
    """A view over ``units`` (current units by id), with ``turns`` giving conversation order."""
    order = list(units)
    bm25: bm25s.BM25 | None = None
    corpus = [content_tokens(_index_text(units[i])) for i in order]
    if any(corpus):
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index([doc or ["_"] for doc in corpus], show_progress=False)
    names = {u.speaker for u in units.values() if u.speaker}
    names |= {e for u in units.values() for e in u.entities if e[:1].isupper()}
    turn_units = {
        u.provenance[0]: u.id
        for u in units.values()
        if u.granularity == Granularity.TURN and u.provenance
    }
    return NamespaceView(
        units=units,
        order=order,
        bm25=bm25,
        names=tuple(sorted(names)),
        adjacent=_adjacent(turns, turn_units),
        turn_units=turn_units,
    )


def _index_text(unit: MemoryUnit) -> str:
    """What BM25 indexes: the text plus speaker and keyphrases."""
    return " ".join([unit.speaker or "", unit.text, " ".join(unit.keywords)])


def _adjacent(turns: Sequence[Turn], turn_units: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Neighbours in conversation order (the journal keeps turns as they came)."""
    sequence = [(t.session_id, turn_units[t.id]) for t in turns if t.id in turn_units]
    adjacent: dict[str, tuple[str, ...]] = {}
    for i, (session, uid) in enumerate(sequence):
        around = [
            sequence[j][1]
            for j in (i - 1, i + 1)
            if 0 <= j < len(sequence) and sequence[j][0] == session
        ]
        adjacent[uid] = tuple(around)
    return adjacent
