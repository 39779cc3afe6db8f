"""``HypermnesiaStore``: LangGraph's long-term memory interface (``BaseStore``) over the engine.

``graph.compile(store=HypermnesiaStore.open(...))`` and LangMem-style tools work unchanged: items
are put, got, searched (by meaning and by value filters), deleted and listed by namespace.

How items live in the engine: the text of each item's indexed fields (the whole value by default,
or the ``index`` fields) becomes a turn unit in the engine's memory of the item's tenant, so
semantic search ranks with the engine's embeddings and the engine's own recall (REST, MCP) finds
what a LangGraph app stored. The item's value itself — arbitrary JSON the engine has no model for
— is kept beside the engine in one SQLite table, with its namespace, key, timestamps and the ids
of its units. Replacing or deleting an item forgets its old units through the engine.

A put writes the new units first, then the item's row, then forgets the old units; a process
killed in between leaves at most some units without a row, which the store's reads never return.
The tenant of an item is fixed by ``tenant`` (one namespace, or a function of the item's
namespace, e.g. ``lambda ns: Namespace(user_id=ns[-1])`` for LangMem's ``("memories", user)``).
Items have no time to live (``supports_ttl`` is False).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path

from graphs.client import Hypermnesia
from memory.model import MAX_TEXT_CHARS, Namespace, Turn, UnitFilter
from memory.settings import Settings
from memory.sqlite import open_sqlite

__all__ = ["ITEMS_FILE", "HypermnesiaStore", "matches_filter", "namespace_matches"]

ITEMS_FILE = "langgraph_store.sqlite3"
SESSION = "langgraph-store"
"""The session the items' turn units belong to."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, tenant TEXT NOT NULL,
    units TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (ns, key)
);
CREATE INDEX IF NOT EXISTS items_updated ON items (updated_at);
"""
_COLUMNS = "ns, key, value, tenant, units, created_at, updated_at"

Tenant = Namespace | Callable[[tuple[str, ...]], Namespace]


def _ns_text(namespace: Sequence[str]) -> str:
    return json.dumps(list(namespace), ensure_ascii=False, separators=(",", ":"))


class HypermnesiaStore(BaseStore):
    """A LangGraph store whose items are searchable memories of the engine."""

    supports_ttl = False

    def __init__(
        self,
        engine: Hypermnesia,
        items_path: Path | str,
        *,
        tenant: Tenant,
        fields: Sequence[str] = ("$",),
        owns_engine: bool = False,
    ) -> None:
        """``fields``: the paths of a value to index when a put does not say (``$`` = all)."""
        self.engine = engine
        self._tenant = tenant
        self._fields = list(fields)
        self._owns_engine = owns_engine
        self._lock = threading.RLock()
        self._db = open_sqlite(items_path, _SCHEMA, "LangGraph item store")

    @classmethod
    def open(
        cls,
        data_dir: Path | str | None = None,
        *,
        tenant: Tenant,
        settings: Settings | None = None,
        fields: Sequence[str] = ("$",),
    ) -> HypermnesiaStore:
        """Open an engine on ``data_dir`` (closed with the store) and the items beside it."""
        settings = settings or Settings()
        root = Path(data_dir) if data_dir is not None else settings.data_dir
        engine = Hypermnesia.open(root, settings=settings)
        return cls(engine, root / ITEMS_FILE, tenant=tenant, fields=fields, owns_engine=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._owns_engine:
            self.engine.close()

    def __enter__(self) -> HypermnesiaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the batch core ------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order; a put is seen by the operations after it."""
        with self._lock:
            return [self._one(op) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch` on a worker thread, so the event loop keeps running."""
        listed = list(ops)
        return await anyio.to_thread.run_sync(self.batch, listed)

    def _one(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            return self._get(op.namespace, op.key)
        if isinstance(op, PutOp):
            self._put(op)
            return None
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise ValueError(f"unknown store operation {type(op).__name__}")

    # -- get and put ---------------------------------------------------------------------------

    def _row(self, namespace: tuple[str, ...], key: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._db.execute(
            f"SELECT {_COLUMNS} FROM items WHERE ns = ? AND key = ?", (_ns_text(namespace), key)
        ).fetchone()
        return row

    def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        row = self._row(namespace, key)
        return _item(row) if row is not None else None

    def tenant_of(self, namespace: tuple[str, ...]) -> Namespace:
        """The engine namespace an item of ``namespace`` is remembered in."""
        return self._tenant if isinstance(self._tenant, Namespace) else self._tenant(namespace)

    def _put(self, op: PutOp) -> None:
        old = self._row(op.namespace, op.key)
        old_units: dict[str, list[str]] = {}
        if old is not None:
            old_units[old[3]] = json.loads(old[4])
        if op.value is None:
            if old is not None:
                self._db.execute(
                    "DELETE FROM items WHERE ns = ? AND key = ?", (_ns_text(op.namespace), op.key)
                )
        else:
            self._write_item(op, old)
        for tenant_key, unit_ids in old_units.items():
            self._forget(Namespace.parse(tenant_key), unit_ids, keep=self._kept(op))

    def _kept(self, op: PutOp) -> set[str]:
        row = self._row(op.namespace, op.key)
        return set(json.loads(row[4])) if row is not None else set()

    def _write_item(self, op: PutOp, old: tuple[Any, ...] | None) -> None:
        tenant = self.tenant_of(op.namespace)
        turns = self._turns(op)
        units = self.engine.store.add_turns(tenant, turns) if turns else []
        now = datetime.now(UTC).isoformat()
        created = old[5] if old is not None else now
        self._db.execute(
            f"INSERT OR REPLACE INTO items ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
            (
                _ns_text(op.namespace),
                op.key,
                json.dumps(op.value, ensure_ascii=False),
                tenant.key,
                json.dumps([u.id for u in units]),
                created,
                now,
            ),
        )

    def _turns(self, op: PutOp) -> list[Turn]:
        """One turn per indexed text of the value (cut to the engine's longest text)."""
        if op.index is False or op.value is None:
            return []
        paths = self._fields if op.index is None else list(op.index)
        texts = [t for p in paths for t in get_text_at_path(op.value, p) if t.strip()]
        turns = []
        for i, text in enumerate(dict.fromkeys(texts)):
            digest = hashlib.sha256(
                "\x1f".join([_ns_text(op.namespace), op.key, text]).encode("utf-8")
            ).hexdigest()[:32]
            turns.append(
                Turn(
                    id=f"lg-{digest}",
                    session_id=SESSION,
                    speaker="langgraph",
                    text=text[:MAX_TEXT_CHARS],
                    index=i,
                )
            )
        return turns

    def _forget(self, ns: Namespace, unit_ids: Sequence[str], *, keep: set[str]) -> None:
        """Forget units no longer used (some may be gone already, forgotten through the API)."""
        doomed = [u.id for u in self.engine.store.get(ns, [i for i in unit_ids if i not in keep])]
        if doomed:
            self.engine.forget(ns, doomed)

    # -- search and list -----------------------------------------------------------------------

    def _rows_under(self, prefix: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """Items whose namespace starts with ``prefix``, most recently updated first."""
        order = " ORDER BY updated_at DESC, rowid DESC"
        if not prefix:
            return self._db.execute(f"SELECT {_COLUMNS} FROM items{order}").fetchall()
        full = _ns_text(prefix)
        opened = full[:-1] + ","
        rows: list[tuple[Any, ...]] = self._db.execute(
            f"SELECT {_COLUMNS} FROM items WHERE ns = ? OR substr(ns, 1, ?) = ?{order}",
            (full, len(opened), opened),
        ).fetchall()
        return rows

    def _search(self, op: SearchOp) -> list[SearchItem]:
        rows = [
            r
            for r in self._rows_under(op.namespace_prefix)
            if matches_filter(json.loads(r[2]), op.filter)
        ]
        if not op.query:
            window = rows[op.offset : op.offset + op.limit]
            return [_item(r, search=True) for r in window]
        scores = self._scores(op.query, rows)
        ranked = sorted((r for r in rows if _ident(r) in scores), key=lambda r: -scores[_ident(r)])
        unscored = [r for r in rows if _ident(r) not in scores]
        window = (ranked + unscored)[op.offset : op.offset + op.limit]
        return [_item(r, search=True, score=scores.get(_ident(r))) for r in window]

    def _scores(self, query: str, rows: Sequence[tuple[Any, ...]]) -> dict[tuple[str, str], float]:
        """The best cosine of each item's units to ``query``, per tenant, in the engine."""
        owner: dict[tuple[str, str], tuple[str, str]] = {}
        for r in rows:
            for unit_id in json.loads(r[4]):
                owner[(r[3], unit_id)] = _ident(r)
        by_tenant: dict[str, list[str]] = {}
        for tenant_key, unit_id in owner:
            by_tenant.setdefault(tenant_key, []).append(unit_id)
        best: dict[tuple[str, str], float] = {}
        for tenant_key, ids in by_tenant.items():
            flt = UnitFilter(ids=frozenset(ids))
            hits = self.engine.store.search(Namespace.parse(tenant_key), query, k=len(ids), flt=flt)
            for hit in hits:
                ident = owner[(tenant_key, hit.unit.id)]
                best[ident] = max(best.get(ident, -1.0), float(hit.score))
        return best

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        rows = self._db.execute("SELECT DISTINCT ns FROM items").fetchall()
        found = {tuple(json.loads(r[0])) for r in rows}
        kept = [n for n in found if all(namespace_matches(c, n) for c in op.match_conditions or ())]
        if op.max_depth is not None:
            kept = list({n[: op.max_depth] for n in kept})
        return sorted(kept)[op.offset : op.offset + op.limit]


def _ident(row: tuple[Any, ...]) -> tuple[str, str]:
    return row[0], row[1]


def _item(row: tuple[Any, ...], *, search: bool = False, score: float | None = None) -> Any:
    ns, key, value, _, _, created, updated = row
    fields = {
        "namespace": tuple(json.loads(ns)),
        "key": key,
        "value": json.loads(value),
        "created_at": datetime.fromisoformat(created),
        "updated_at": datetime.fromisoformat(updated),
    }
    return SearchItem(**fields, score=score) if search else Item(**fields)


def namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """A namespace against a prefix or suffix pattern, where ``*`` stands for any one label."""
    pattern = tuple(condition.path)
    if len(namespace) < len(pattern):
        return False
    if condition.match_type == "prefix":
        part = namespace[: len(pattern)]
    elif condition.match_type == "suffix":
        part = namespace[len(namespace) - len(pattern) :]
    else:
        raise ValueError(f"unknown namespace match type {condition.match_type!r}")
    return all(p in ("*", label) for p, label in zip(pattern, part, strict=True))


_ORDER = {"$gt": (1,), "$gte": (0, 1), "$lt": (-1,), "$lte": (-1, 0)}


def _operator(value: Any, operator: str, wanted: Any) -> bool:
    if operator == "$eq":
        return bool(value == wanted)
    if operator == "$ne":
        return bool(value != wanted)
    if operator not in _ORDER:
        raise ValueError(f"unknown filter operator {operator!r}")
    try:
        sign = (float(value) > float(wanted)) - (float(value) < float(wanted))
    except (TypeError, ValueError):
        return False
    return sign in _ORDER[operator]


def _matches(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_operator(value, op, w) for op, w in wanted.items())
        return isinstance(value, dict) and all(_matches(value.get(k), w) for k, w in wanted.items())
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(_matches(v, w) for v, w in zip(value, wanted, strict=True))
        )
    return bool(value == wanted)


def matches_filter(value: dict[str, Any], flt: dict[str, Any] | None) -> bool:
    """LangGraph's value filter: each key equals (nested dicts and lists compared field by field)
    or passes its operators (``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``)."""
    return not flt or all(_matches(value.get(k), w) for k, w in flt.items())
