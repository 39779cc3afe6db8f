"""What each page of the trace viewer shows, gathered from the engine in one read.

Every function here takes the caller's :class:`Scope` and never returns a run or a unit outside
it: another namespace's run or unit is reported as missing, exactly like one that does not exist.
The functions are synchronous; the routes (:mod:`graphs.service.viewer`) run them on the engine's
threads with :meth:`graphs.aio.AsyncHypermnesia.read`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from difflib import SequenceMatcher
from typing import Any

from agents.recipes import RECIPES
from agents.retrieval.explain import MAX_EXPLAINED
from graphs.cli.render import history_ids
from graphs.client import Hypermnesia
from graphs.service.viewer_graph import Drawing, Neighbourhood, draw, neighbourhood
from memory.errors import InvalidInputError, UnitNotFoundError
from memory.model import Granularity, MemoryUnit, Namespace, Turn, UnitFilter
from memory.store import HistoryEvent
from memory.traces import TraceRun, TraceStep

__all__ = [
    "CANDIDATES_PER_PAGE",
    "RUNS_PER_PAGE",
    "HistoryEntry",
    "RunFilter",
    "Scope",
    "Span",
    "graph_page",
    "latency_ms",
    "run_page",
    "runs_page",
    "timeline",
    "unit_page",
    "word_diff",
]

RUNS_PER_PAGE = 50
CANDIDATES_PER_PAGE = MAX_EXPLAINED
"""Explained candidates shown per step on one page of a run: a whole pass, unless it packed units
beyond the head it explains."""
_UNIT_RUNS = 50


@dataclass(frozen=True)
class Scope:
    """The namespaces one viewer request may see: an API key's tenant, or in local mode (no
    keys file) every namespace of the data folder."""

    tenant: Namespace | None

    def allows(self, key: str) -> bool:
        return self.tenant is None or key == self.tenant.key

    def namespaces(self, hm: Hypermnesia) -> list[str]:
        return [self.tenant.key] if self.tenant is not None else hm.traces.namespaces()

    def run(self, hm: Hypermnesia, run_id: str) -> TraceRun:
        """The run, if the scope may see it; else missing, like an unknown run."""
        run = hm.traces.get(run_id)
        if not self.allows(run.namespace):
            raise UnitNotFoundError(f"no trace run {run_id!r}")
        return run

    def unit(self, hm: Hypermnesia, unit_id: str, asked: str | None) -> MemoryUnit:
        """The unit, looked up in the tenant's namespace; in local mode in the one ``asked``
        (``user/agent``), else in every namespace with recorded runs."""
        if self.tenant is not None:
            return hm.store.get_one(self.tenant, unit_id)
        spaces = [asked] if asked else hm.traces.namespaces()
        for key in spaces:
            found = hm.store.get(_namespace(key), [unit_id])
            if found:
                return found[0]
        raise UnitNotFoundError(f"no unit {unit_id!r}")

    def namespace(self, asked: str | None) -> Namespace:
        if self.tenant is not None:
            return self.tenant
        if not asked:
            raise InvalidInputError("local mode: name the namespace (ns=user/agent)")
        return _namespace(asked)


def _namespace(key: str) -> Namespace:
    try:
        return Namespace.parse(key)
    except ValueError as exc:
        raise InvalidInputError(f"bad namespace {key!r}: {exc}") from None


@dataclass(frozen=True)
class RunFilter:
    """The run list's filters (empty strings and None filter nothing) and page."""

    ns: str = ""
    graph: str = ""
    status: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""
    page: int = 1

    def query(self, **change: Any) -> dict[str, Any]:
        """These filters as query parameters, with ``change`` applied (for links)."""
        values = {
            "ns": self.ns,
            "graph": self.graph,
            "status": self.status,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "q": self.q,
            "page": self.page,
        }
        values.update(change)
        return {k: v for k, v in values.items() if v not in ("", None)}


def runs_page(hm: Hypermnesia, scope: Scope, flt: RunFilter) -> dict[str, Any]:
    """A page of runs matching ``flt``, newest first, with what their LLM calls cost."""
    spaces = scope.namespaces(hm)
    chosen: list[str] | None = spaces  # a key's own namespace, whatever ns asks
    if scope.tenant is None:
        chosen = [flt.ns] if flt.ns else None
    since = datetime.combine(flt.since, time.min) if flt.since else None
    until = datetime.combine(flt.until + timedelta(days=1), time.min) if flt.until else None
    runs = hm.traces.find_runs(
        chosen,
        graph=flt.graph or None,
        status=flt.status or None,
        since=since,
        until=until,
        text=flt.q or None,
        limit=RUNS_PER_PAGE + 1,
        offset=(flt.page - 1) * RUNS_PER_PAGE,
    )
    shown = runs[:RUNS_PER_PAGE]
    return {
        "runs": shown,
        "totals": hm.traces.totals([r.run_id for r in shown]),
        "namespaces": spaces,
        "has_next": len(runs) > RUNS_PER_PAGE,
        "filter": flt,
    }


def latency_ms(run: TraceRun) -> float | None:
    if run.finished_at is None:
        return None
    return (run.finished_at - run.started_at).total_seconds() * 1000.0


def run_page(hm: Hypermnesia, scope: Scope, run_id: str, page: int) -> dict[str, Any]:
    """One run: its steps, the units they name (looked up now), the evidence it packed."""
    run = scope.run(hm, run_id)
    ns = Namespace.parse(run.namespace)
    first = (page - 1) * CANDIDATES_PER_PAGE
    shown = {i: s.candidates[first : first + CANDIDATES_PER_PAGE] for i, s in enumerate(run.steps)}
    ids = _named_ids(run.steps, shown)
    units = {u.id: u for u in hm.store.get(ns, ids)}
    reads = [s for s in run.steps if s.agent == "retriever"]
    evidence = reads[-1].retrieved if reads else []
    most = max((len(s.candidates) for s in run.steps), default=0)
    return {
        "run": run,
        "totals": hm.traces.totals([run.run_id])[run.run_id],
        "latency_ms": latency_ms(run),
        "units": units,
        "evidence": evidence,
        "candidates": shown,
        "page": page,
        "pages": max(1, -(-most // CANDIDATES_PER_PAGE)),
        "recipes": sorted(RECIPES),
        "recipe": run.input.get("recipe", "full"),
        "timeline": timeline(run),
    }


@dataclass(frozen=True)
class Span:
    """One step on the run's time line: when it began and how long it took, in milliseconds
    from the run's start and as percentages of the whole line (for a bar)."""

    start_ms: float
    duration_ms: float
    left: float
    width: float


def timeline(run: TraceRun) -> list[Span]:
    """Each step's span; a step's time is taken at its end, so it began ``duration_ms`` before."""
    starts = [
        max(0.0, (s.at - run.started_at).total_seconds() * 1000.0 - s.duration_ms)
        for s in run.steps
    ]
    ends = [a + s.duration_ms for a, s in zip(starts, run.steps, strict=True)]
    total = max([*ends, latency_ms(run) or 0.0, 1e-9])
    return [
        Span(a, s.duration_ms, 100.0 * a / total, max(0.5, 100.0 * s.duration_ms / total))
        for a, s in zip(starts, run.steps, strict=True)
    ]


def _named_ids(steps: Sequence[TraceStep], shown: dict[int, list[Any]]) -> list[str]:
    ids: dict[str, None] = {}
    for i, s in enumerate(steps):
        ids.update(dict.fromkeys(uid for uid, _ in s.retrieved))
        ids.update(dict.fromkeys(c.unit_id for c in shown[i]))
        for d in s.decisions:
            ids.update(dict.fromkeys(x for x in (d.unit_id, d.target_id) if x))
    return list(ids)


@dataclass
class HistoryEntry:
    """One history event, the units it names (None: no longer stored) and any text diff."""

    event: HistoryEvent
    units: list[tuple[str, MemoryUnit | None]]
    diffs: list[list[tuple[str, str]]] = field(default_factory=list)


def unit_page(hm: Hypermnesia, scope: Scope, unit_id: str, asked: str | None) -> dict[str, Any]:
    """A unit, its source turns, its history as diffs, the runs that named it, its graph."""
    unit = scope.unit(hm, unit_id, asked)
    ns = unit.namespace
    try:
        events = hm.history(ns, unit.id)
    except UnitNotFoundError:
        events = []  # imported units have no journaled history
    linked = {u.id: u for u in hm.store.get(ns, history_ids(unit.id, events))}
    turns = _source_turns(hm, ns, unit)
    drawn = _drawn_from(hm, ns, unit) if unit.granularity == Granularity.TURN else []
    hood = neighbourhood(hm.store, ns, unit_id=unit.id, hops=1)
    return {
        "unit": unit,
        "ns": ns.key,
        "turns": turns,
        "drawn": drawn,
        "history": [_entry(e, unit.id, linked) for e in events],
        "runs": hm.traces.runs_with_unit(ns.key, unit.id, limit=_UNIT_RUNS),
        "drawing": draw(hood),
        "hood": hood,
    }


def _source_turns(
    hm: Hypermnesia, ns: Namespace, unit: MemoryUnit
) -> list[tuple[str, Turn | None, str | None]]:
    """(turn id, the raw turn, the id of its turn unit) per source turn of ``unit``."""
    if not unit.provenance:
        return []
    wanted = set(unit.provenance)
    sessions = {unit.session_id} if unit.session_id else None
    raw = {t.id: t for t in hm.store.turns(ns) if t.id in wanted}
    flt = UnitFilter(
        granularities=frozenset({Granularity.TURN}),
        session_ids=frozenset(sessions) if sessions else None,
    )
    turn_units = {
        u.provenance[0]: u.id
        for u in hm.store.units(ns, flt)
        if len(u.provenance) == 1 and u.provenance[0] in wanted
    }
    return [(t, raw.get(t), turn_units.get(t)) for t in unit.provenance]


def _drawn_from(hm: Hypermnesia, ns: Namespace, turn: MemoryUnit) -> list[MemoryUnit]:
    """The other units, current or not, whose source turns include this turn unit's turn."""
    turn_id = turn.provenance[0] if turn.provenance else None
    if turn_id is None:
        return []
    return [u for u in hm.store.units(ns) if turn_id in u.provenance and u.id != turn.id]


def _entry(event: HistoryEvent, unit_id: str, linked: dict[str, MemoryUnit]) -> HistoryEntry:
    relevant = set(history_ids(unit_id, [event])) | set(linked)
    ids = [i for i in event.unit_ids if i in relevant] or event.unit_ids[:1]
    entry = HistoryEntry(event, [(i, linked.get(i)) for i in ids])
    if event.op in ("supersede", "merge") and len(event.unit_ids) >= 2:
        first, *others = [linked.get(i) for i in event.unit_ids]
        for other in others:
            if first is not None and other is not None:
                old, new = (first, other) if event.op == "supersede" else (other, first)
                entry.diffs.append(word_diff(old.text, new.text))
    return entry


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """``(op, text)`` pieces turning ``old`` into ``new`` word by word; op is ``same``, ``del``
    or ``ins``."""
    a, b = old.split(), new.split()
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", " ".join(b[j1:j2])))
    return out


def graph_page(
    hm: Hypermnesia,
    scope: Scope,
    *,
    unit_id: str | None,
    entity: str | None,
    hops: int,
    asked: str | None,
) -> tuple[Neighbourhood, Drawing, str]:
    """The neighbourhood of a unit or an entity, its drawing, and the namespace it is in."""
    found = scope.unit(hm, unit_id, asked) if unit_id is not None else None
    ns = found.namespace if found is not None else scope.namespace(asked)
    hood = neighbourhood(hm.store, ns, unit_id=unit_id, entity=entity, hops=hops)
    return hood, draw(hood), ns.key
