"""What a reflector run proposed: each insight or persona, the judge's decision on it, and the
stored units it was derived from."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.tree import Tree

from graphs.cli.render import out, print_json, shorten

if TYPE_CHECKING:
    from graphs import Hypermnesia, RememberResult, WriteDecision
    from memory.model import MemoryUnit, Namespace

__all__ = ["reflect_now", "reflected_units", "reflection_tree", "show_reflection"]

#: Sources listed under each proposal; a persona can draw on dozens of facts.
SHOWN_SOURCES = 4

_COLOURS = {"new": "green", "update": "yellow", "conflict": "red"}


def reflect_now(hm: Hypermnesia, ns: Namespace) -> tuple[RememberResult, dict[str, MemoryUnit]]:
    """Run the reflector now; its result, and the units it proposed and derived them from."""
    result = hm.reflect(ns)
    return result, reflected_units(hm, ns, result)


def reflected_units(
    hm: Hypermnesia, ns: Namespace, result: RememberResult
) -> dict[str, MemoryUnit]:
    """The stored units the run proposed, and the units each of them derives from, by id."""
    proposed = hm.store.get(ns, [d.unit_id for d in result.decisions])
    sources = [i for u in proposed for i in u.derived_from]
    units = {u.id: u for u in proposed}
    units.update({u.id: u for u in hm.store.get(ns, sources)})
    return units


def _label(decision: WriteDecision, unit: MemoryUnit | None) -> str:
    colour = _COLOURS.get(decision.decision, "dim")
    label = (
        f"[bold]{decision.granularity}[/] [cyan]{decision.unit_id}[/] · "
        f"judge: [{colour}]{escape(decision.decision)}[/] [dim]({escape(decision.reason)})[/]"
    )
    if decision.target_id:
        label += f" · target [cyan]{decision.target_id}[/]"
    if unit is None:
        return label + " · [dim]not stored[/]"
    if not unit.is_current:
        return label + f" · [dim]closed, superseded by {unit.superseded_by or 'nothing'}[/]"
    return label


def reflection_tree(result: RememberResult, units: dict[str, MemoryUnit], title: str) -> Tree:
    """One branch per proposal, with the first few units it was derived from beneath it."""
    tree = Tree(title)
    if not result.decisions:
        tree.add("[dim]nothing proposed[/]")
    for decision in result.decisions:
        unit = units.get(decision.unit_id)
        branch = tree.add(_label(decision, unit))
        branch.add(escape(decision.text))
        sources = unit.derived_from if unit is not None else ()
        for source_id in sources[:SHOWN_SOURCES]:
            source = units.get(source_id)
            text = escape(shorten(source.text, 90)) if source else "[red]not stored[/]"
            kind = f"{source.granularity.value} ({source.kind.value})" if source else "unit"
            branch.add(f"[dim]from[/] {kind} [cyan]{source_id}[/]: {text}")
        if len(sources) > SHOWN_SOURCES:
            branch.add(f"[dim]… and {len(sources) - SHOWN_SOURCES} more[/]")
    return tree


def show_reflection(
    result: RememberResult, units: dict[str, MemoryUnit], ns: Namespace, *, json_out: bool
) -> None:
    if json_out:
        print_json(result.model_dump(mode="json"))
        return
    title = f"Reflections proposed in {ns}"
    out.print(reflection_tree(result, units, f"[bold]{escape(title)}[/]"))
    counts = Counter(d.decision for d in result.decisions)
    decided = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "nothing"
    out.print(
        f"{len(result.decisions)} proposal(s): {decided} · {result.llm_calls} LLM call(s) · "
        f"run [cyan]{result.run_id}[/]"
    )
