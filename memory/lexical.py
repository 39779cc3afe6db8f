"""The lexical index: BM25 full-text search over each namespace's current units (SQLite FTS5).

A unit is indexed by the content tokens (:mod:`memory.text`) of its speaker, text and keyphrases;
only current units are indexed, so a closed or deleted unit leaves the index with the write that
closed it. Each namespace has an FTS5 table of its own, so its BM25 statistics (document count,
average length, term frequencies) are its own and no query can reach another tenant's rows.
FTS5 ranks with BM25 (k1 = 1.2, b = 0.75).

Terms are stored as short digests of the tokens, never as words: FTS5 tokenizes them as plain
ASCII whatever the language, and the file holds no readable text. Writes are idempotent (a unit is
replaced whole), so replaying an intent after a crash is safe; another process sees a write as
soon as it commits.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from memory.model import Granularity, MemoryUnit, Namespace
from memory.sqlite import open_sqlite
from memory.text import content_tokens

__all__ = ["LexicalIndex", "index_text"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lexical_docs (
    doc_id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, unit_id TEXT NOT NULL,
    granularity TEXT NOT NULL, UNIQUE (ns, unit_id)
);
"""
_CHUNK = 500


def index_text(unit: MemoryUnit) -> str:
    """What the index holds of a unit: its speaker, its text and its keyphrases."""
    return " ".join([unit.speaker or "", unit.text, " ".join(unit.keywords)])


@lru_cache(maxsize=65536)
def _term(token: str) -> str:
    return "t" + hashlib.blake2b(token.encode("utf-8"), digest_size=8).hexdigest()


def _table(ns: Namespace) -> str:
    return "lex_" + hashlib.sha256(ns.key.encode("utf-8")).hexdigest()[:24]


class LexicalIndex:
    """BM25 search over current units, one FTS5 table per namespace, in one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = open_sqlite(self.path, _SCHEMA, "lexical index")
        self._tables: set[str] = set()

    def _ensure(self, ns: Namespace) -> str:
        name = _table(ns)
        if name not in self._tables:
            self._db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5(terms)")
            self._tables.add(name)
        return name

    def _exists(self, ns: Namespace) -> str | None:
        name = _table(ns)
        if name in self._tables:
            return name
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        self._tables.add(name)
        return name

    def apply(
        self, ns: Namespace, units: Sequence[MemoryUnit], removed: Iterable[str] = ()
    ) -> None:
        """Index the current ``units`` (replacing any older copy), drop the closed ones and
        ``removed``, in one transaction."""
        with self._lock:
            table = self._ensure(ns)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._drop(table, ns, [*(u.id for u in units), *removed])
                for unit in units:
                    if unit.is_current:
                        self._insert(table, ns, unit)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def rebuild(self, ns: Namespace, units: Sequence[MemoryUnit]) -> None:
        """Index exactly the current ``units`` for ``ns``, whatever the index held before."""
        with self._lock:
            table = self._ensure(ns)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT doc_id FROM lexical_docs WHERE ns = ?", (ns.key,)
                ).fetchall()
                self._db.executemany(f"DELETE FROM {table} WHERE rowid = ?", rows)
                self._db.execute("DELETE FROM lexical_docs WHERE ns = ?", (ns.key,))
                for unit in units:
                    if unit.is_current:
                        self._insert(table, ns, unit)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _drop(self, table: str, ns: Namespace, ids: Sequence[str]) -> None:
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT doc_id FROM lexical_docs WHERE ns = ? AND unit_id IN ({marks})",
                (ns.key, *chunk),
            ).fetchall()
            self._db.executemany(f"DELETE FROM {table} WHERE rowid = ?", rows)
            self._db.executemany("DELETE FROM lexical_docs WHERE doc_id = ?", rows)

    def _insert(self, table: str, ns: Namespace, unit: MemoryUnit) -> None:
        cur = self._db.execute(
            "INSERT INTO lexical_docs (ns, unit_id, granularity) VALUES (?,?,?)",
            (ns.key, unit.id, unit.granularity.value),
        )
        terms = " ".join(_term(t) for t in content_tokens(index_text(unit))) or "t_"
        self._db.execute(
            f"INSERT INTO {table} (rowid, terms) VALUES (?, ?)", (cur.lastrowid, terms)
        )

    def search(
        self,
        ns: Namespace,
        query: str,
        k: int,
        granularities: frozenset[Granularity] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` best current units for ``query`` by BM25, best first, as (id, score > 0).

        Units of other granularities than ``granularities`` are left out (they still count in
        the BM25 statistics). A query without content words finds nothing.
        """
        tokens = content_tokens(query)
        if not tokens or k < 1:
            return []
        with self._lock:
            table = self._exists(ns)
            if table is None:
                return []
            where, args = "", []
            if granularities is not None and len(granularities) < len(Granularity):
                where = f" AND d.granularity IN ({','.join('?' * len(granularities))})"
                args = [g.value for g in granularities]
            rows = self._db.execute(
                f"SELECT d.unit_id, -bm25({table}) AS score FROM {table} "
                f"JOIN lexical_docs d ON d.doc_id = {table}.rowid "
                f"WHERE {table} MATCH ?{where} ORDER BY score DESC, d.unit_id LIMIT ?",
                (" OR ".join(f'"{_term(t)}"' for t in tokens), *args, k),
            ).fetchall()
        return [(uid, float(score)) for uid, score in rows if score > 0]

    def count(self, ns: Namespace) -> int:
        """Units indexed for ``ns`` (its current units)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM lexical_docs WHERE ns = ?", (ns.key,)
            ).fetchone()
        return int(row[0])

    def compact(self) -> None:
        """Merge each table's segments (dropping deleted entries), then rewrite the file."""
        with self._lock:
            names = [
                r[0]
                for r in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'lex\\_%' "
                    "ESCAPE '\\' AND sql LIKE '%fts5%'"
                )
            ]
            for name in names:
                self._db.execute(f"INSERT INTO {name} ({name}) VALUES ('optimize')")
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()
