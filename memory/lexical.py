"""The lexical index: BM25 over a namespace's current units, brought forward write by write.

Scores are Lucene's BM25 (k1 1.2, b 0.75, idf ``ln(1 + (N - n + 0.5) / (n + 0.5))``), the
variant ``bm25s`` computes and the retriever was tuned with; the tests check that both libraries
give the same scores. ``bm25s`` cannot add or remove a document without indexing the whole
namespace again, which costs time in proportion to the namespace on every write; SQLite FTS5 can
(and was tried), but its idf gives the terms in more than half of the documents — a speaker's
name in every turn they said — no weight at all, which cost recall on LoCoMo (0.850 against
0.857 at 1000 tokens) and took longer per query than the whole rest of the read path.

So the index is an inverted index in memory: postings (row, term frequency) per term, a length
per row, updated with the units a write changed (:meth:`LexicalIndex.updated`) and scored with
NumPy at query time, so N and the average length are always the current ones. A unit is indexed by
the content tokens (:mod:`memory.text`) of its speaker, text and keyphrases; only current units
are indexed. Every update returns a new index, so a search in progress never sees half a write.
It lives only in memory: the store rebuilds it from the durable units on first use.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from memory.model import Granularity, MemoryUnit
from memory.text import content_tokens

__all__ = ["K1", "B", "LexicalIndex", "index_text"]

K1 = 1.2
B = 0.75
_EMPTY = "_"
"""The token of a unit without content words (it still counts as a document of length 1)."""
_SLACK = 1024
"""Rows of departed units kept before the index is compacted."""
_KIND = {g: i for i, g in enumerate(Granularity)}
"""A granularity's code in :attr:`LexicalIndex.kinds`."""
_GONE = -1
"""The code of a row whose unit left the index."""


def index_text(unit: MemoryUnit) -> str:
    """What the index holds of a unit: its speaker, its text and its keyphrases."""
    return " ".join([unit.speaker or "", unit.text, " ".join(unit.keywords)])


@dataclass(frozen=True)
class _Postings:
    rows: NDArray[np.int64]
    tfs: NDArray[np.float64]


@dataclass(frozen=True)
class _Doc:
    row: int
    terms: Counter[str]
    granularity: Granularity


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over one namespace's current units (an immutable snapshot)."""

    docs: Mapping[str, _Doc]
    postings: Mapping[str, _Postings]
    lengths: NDArray[np.float64]
    """Token count of every row ever used (0 for a row whose unit left)."""
    unit_ids: tuple[str, ...]
    """The unit id of every row ever used."""
    kinds: NDArray[np.int8]
    """The granularity code of every row (``_GONE`` for a row whose unit left), so a search
    restricted to some granularities masks rows without walking the documents."""

    @classmethod
    def build(cls, units: Iterable[MemoryUnit]) -> LexicalIndex:
        """The index of the current ones among ``units``."""
        empty = cls({}, {}, np.zeros(0), (), np.zeros(0, np.int8))
        return empty.updated([u.id for u in units], {u.id: u for u in units})

    def updated(self, changed: Sequence[str], units: Mapping[str, MemoryUnit]) -> LexicalIndex:
        """This index after the units ``changed`` took their state in ``units`` (absent:
        deleted; closed: no longer indexed). Applying the same change twice is harmless.

        Costs the size of the change plus array copies of the rows, not a walk of every row."""
        docs = dict(self.docs)
        lost: dict[str, set[int]] = {}
        gained: dict[str, list[tuple[int, int]]] = {}
        departed: list[int] = []
        added: list[tuple[str, float, int]] = []  # (unit id, length, granularity code)
        for uid in dict.fromkeys(changed):
            old, unit = docs.pop(uid, None), units.get(uid)
            if old is not None:
                departed.append(old.row)
                for term in old.terms:
                    lost.setdefault(term, set()).add(old.row)
            if unit is None or not unit.is_current:
                continue
            terms = Counter(content_tokens(index_text(unit)) or [_EMPTY])
            row = len(self.unit_ids) + len(added)
            added.append((uid, float(sum(terms.values())), _KIND[unit.granularity]))
            docs[uid] = _Doc(row, terms, unit.granularity)
            for term, tf in terms.items():
                gained.setdefault(term, []).append((row, tf))
        lengths = np.concatenate([self.lengths, np.fromiter((a[1] for a in added), np.float64)])
        kinds = np.concatenate([self.kinds, np.fromiter((a[2] for a in added), np.int8)])
        lengths[departed] = 0.0
        kinds[departed] = _GONE
        postings = dict(self.postings)
        for term in lost.keys() | gained.keys():
            merged = _merged(postings.get(term), lost.get(term, set()), gained.get(term, []))
            if len(merged.rows):
                postings[term] = merged
            else:
                postings.pop(term, None)
        unit_ids = self.unit_ids + tuple(a[0] for a in added)
        index = LexicalIndex(docs, postings, lengths, unit_ids, kinds)
        return index._compacted() if len(unit_ids) > 2 * len(docs) + _SLACK else index

    def _compacted(self) -> LexicalIndex:
        """The same index with the rows of departed units dropped."""
        order = sorted(self.docs.items(), key=lambda kv: kv[1].row)
        docs: dict[str, _Doc] = {}
        gained: dict[str, list[tuple[int, int]]] = {}
        for row, (uid, doc) in enumerate(order):
            docs[uid] = _Doc(row, doc.terms, doc.granularity)
            for term, tf in doc.terms.items():
                gained.setdefault(term, []).append((row, tf))
        lengths = np.asarray([float(sum(d.terms.values())) for d in docs.values()], np.float64)
        postings = {t: _merged(None, set(), rows) for t, rows in gained.items()}
        kinds = np.asarray([_KIND[d.granularity] for d in docs.values()], np.int8)
        return LexicalIndex(docs, postings, lengths, tuple(docs), kinds)

    def __len__(self) -> int:
        return len(self.docs)

    def search(
        self, query: str, k: int, granularities: frozenset[Granularity] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best units for ``query`` as (id, score > 0), best first.

        Units of other granularities than ``granularities`` are left out (they still count in
        the statistics). Each occurrence of a term in the query counts, as in ``bm25s``.
        """
        scores = self.scores(query)
        if scores is None:
            return []
        if granularities is not None and len(granularities) < len(Granularity):
            allowed = np.isin(self.kinds, [_KIND[g] for g in granularities])
            scores = np.where(allowed, scores, 0.0)
        top = min(k, int(np.count_nonzero(scores > 0)))
        if top <= 0:
            return []
        idx = np.argpartition(-scores, top - 1)[:top]
        idx = idx[np.lexsort((idx, -scores[idx]))]
        return [(self.unit_ids[i], float(scores[i])) for i in idx]

    def scores(self, query: str) -> NDArray[np.float64] | None:
        """The BM25 score of every row for ``query`` (None when no term of it is indexed)."""
        terms = [t for t in content_tokens(query) if t in self.postings]
        if not terms or not self.docs:
            return None
        n_docs = len(self.docs)
        avgdl = float(self.lengths.sum()) / n_docs
        scores = np.zeros(len(self.unit_ids))
        for term in terms:
            post = self.postings[term]
            df = len(post.rows)
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            norm = K1 * ((1.0 - B) + B * self.lengths[post.rows] / avgdl)
            scores[post.rows] += idf * post.tfs / (norm + post.tfs)
        return scores


def _merged(old: _Postings | None, lost: set[int], gained: list[tuple[int, int]]) -> _Postings:
    rows = np.zeros(0, np.int64) if old is None else old.rows
    tfs = np.zeros(0, np.float64) if old is None else old.tfs
    if lost:
        keep = ~np.isin(rows, np.fromiter(lost, np.int64, len(lost)))
        rows, tfs = rows[keep], tfs[keep]
    if gained:
        rows = np.concatenate([rows, np.fromiter((r for r, _ in gained), np.int64, len(gained))])
        tfs = np.concatenate([tfs, np.fromiter((f for _, f in gained), np.float64, len(gained))])
    return _Postings(rows, tfs)
