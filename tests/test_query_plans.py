"""Lookups on the read path search their own index, not the whole namespace.

SQLite's planner has no table statistics here, so it takes ``ns = ?`` for a selective condition
and, for a list of several keys, prefers scanning the namespace's primary key over the index made
for the lookup: 2.7 ms instead of 0.1 ms for 40 turn ids in a namespace of 13,000 provenance
links. Each test records the statement a lookup really runs and asks SQLite how it would run it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from memory.hypergraph import HypergraphStore
from memory.journal import Journal
from memory.model import Namespace

NS = Namespace(user_id="alice")


def _plans(db: sqlite3.Connection, lookup: Callable[[], object], table: str) -> list[str]:
    """The query plan of each statement on ``table`` that ``lookup`` ran on ``db``."""
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        lookup()
    finally:
        db.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT") and table in s]
    assert selects, f"the lookup ran no SELECT on {table}: {statements}"
    return [" / ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {s}")) for s in selects]


def test_units_derived_from_turns_search_the_source_index(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        turns = [f"D1:{n}" for n in range(40)]
        plans = _plans(journal._db, lambda: journal.derived_from(NS, turns), "provenance")
    finally:
        journal.close()
    assert all("provenance_source (ns=? AND source_id=?)" in p for p in plans), plans


def test_vertices_found_by_label_search_the_label_index(tmp_path: Path) -> None:
    graph = HypergraphStore(tmp_path / "hypergraph.sqlite3")
    try:
        labels = [f"person {n}" for n in range(20)]
        assert graph._conn is not None
        plans = _plans(graph._conn, lambda: graph.find_vertices(NS, labels), "vertices")
    finally:
        graph.close()
    assert all("vertices_by_label (ns=? AND norm=?)" in p for p in plans), plans
