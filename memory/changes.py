"""The units a write stores, as values: changes, supersede and merge, turn units, hyperedges.

Pure functions of units (no store access), so agents can prepare a batch of changes and the store
can apply it as one write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from memory.errors import InvalidInputError
from memory.model import (
    Granularity,
    Hyperedge,
    MemoryUnit,
    Namespace,
    Turn,
    Vertex,
    VertexKind,
    make_unit,
    utcnow,
    vertex_id,
)

__all__ = [
    "Change",
    "merging",
    "superseding",
    "turn_unit",
    "turn_unit_text",
    "unit_edge",
    "unit_vertex_ids",
    "unit_vertices",
]


@dataclass(frozen=True)
class Change:
    """One logical write for :meth:`MemoryStore.apply`: its kind, the units it stores, and why."""

    kind: Literal["put", "supersede", "merge"]
    units: tuple[MemoryUnit, ...]
    reason: str | None = None


def superseding(old: MemoryUnit, new_unit: MemoryUnit, reason: str | None = None) -> Change:
    """The change that closes ``old`` and stores ``new_unit`` as its successor."""
    if not old.is_current:
        raise InvalidInputError(f"unit {old.id} was already superseded by {old.superseded_by}")
    if old.id == new_unit.id:
        raise InvalidInputError(f"unit {old.id} cannot supersede itself")
    return Change("supersede", (old.closed(new_unit.valid_from, new_unit.id), new_unit), reason)


def merging(
    keep: MemoryUnit, duplicates: Sequence[MemoryUnit], reason: str | None = None
) -> Change:
    """The change that folds ``duplicates`` into ``keep`` (first unit of the change)."""
    provenance = tuple(
        dict.fromkeys([*keep.provenance, *(p for d in duplicates for p in d.provenance)])
    )
    merged = keep.model_copy(update={"provenance": provenance, "version": keep.version + 1})
    now = utcnow()
    closed = [d.closed(now, keep.id) for d in duplicates if d.is_current and d.id != keep.id]
    return Change("merge", (merged, *closed), reason)


def turn_unit_text(turn: Turn) -> str:
    """The text of a turn's unit: the turn's, with any image caption."""
    return turn.text if not turn.image_caption else f"{turn.text} [shares {turn.image_caption}]"


def turn_unit(ns: Namespace, turn: Turn, **fields: Any) -> MemoryUnit:
    """The turn-granularity unit of a raw turn: its text (with any image caption), speaker, time."""
    text = turn_unit_text(turn)
    fields.setdefault("session_id", turn.session_id)
    fields.setdefault("speaker", turn.speaker)
    fields.setdefault("event_time", turn.session_time)
    return make_unit(ns, Granularity.TURN, text, provenance=[turn.id], **fields)


def unit_vertices(unit: MemoryUnit) -> list[Vertex]:
    """The vertices a unit's hyperedge spans: its entities, its speaker and its event day."""
    ns = unit.namespace
    return [
        Vertex(id=vid, namespace=ns, kind=kind, label=label)
        for vid, (kind, label) in _unit_labels(unit).items()
    ]


def unit_vertex_ids(unit: MemoryUnit) -> list[str]:
    """The ids of :func:`unit_vertices` (without building the vertices)."""
    return list(_unit_labels(unit))


def _unit_labels(unit: MemoryUnit) -> dict[str, tuple[VertexKind, str]]:
    ns = unit.namespace
    labels = list(unit.entities)
    if unit.speaker:
        labels.append(unit.speaker)
    out: dict[str, tuple[VertexKind, str]] = {}
    for label in labels:
        try:
            vid = vertex_id(ns, VertexKind.ENTITY, label)
        except InvalidInputError:
            continue
        out.setdefault(vid, (VertexKind.ENTITY, label))
    if unit.event_time is not None:
        day = unit.event_time.date().isoformat()
        out[vertex_id(ns, VertexKind.TIME, day)] = (VertexKind.TIME, day)
    return out


def unit_edge(unit: MemoryUnit, vertices: Sequence[Vertex]) -> Hyperedge:
    """The hyperedge a unit is in the hypergraph: over its vertices, weighted by importance."""
    return Hyperedge(
        id=unit.id,
        namespace=unit.namespace,
        vertices=tuple(v.id for v in vertices),
        granularity=unit.granularity,
        event_time=unit.event_time,
        current=unit.is_current,
        weight=0.5 + unit.importance,
    )
