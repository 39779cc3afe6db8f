"""The demo: ingest a sample conversation with the deterministic agents, then show the five agents
at work and check each claim it makes against what the engine actually returned.

The constructor, judge and refresher run during ingest; the retriever and judge answer three
questions (an updated fact, a relative date, a multi-hop question); the reflector then runs on
demand and its insights are checked to be inferences derived from stored evidence. A claim that
does not hold is printed in red and counted, so the command can exit with status 1.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.panel import Panel

from graphs.cli.engine import namespace, open_engine
from graphs.cli.ingest import ingest, ingest_table
from graphs.cli.reflect import reflected_units, reflection_tree
from graphs.cli.render import (
    day,
    err,
    evidence_table,
    history_ids,
    out,
    print_history,
    shorten,
    stats_table,
    when,
)
from memory.conversations import load_conversation_file

if TYPE_CHECKING:
    from graphs import Evidence, Hypermnesia
    from memory.model import MemoryUnit, Namespace

__all__ = ["DEMO_FILE", "STEPS", "Check", "demo_command", "inference_problems", "run_demo"]


@dataclass(frozen=True)
class Check:
    """A claim the demo makes, checked against what the engine actually returned."""

    claim: str
    held: bool
    detail: str


Step = Callable[["Hypermnesia", "Namespace"], tuple[Check, str]]


def _mentions(evidence: Evidence, *words: str) -> bool:
    text = evidence.text.casefold()
    return all(w.casefold() in text for w in words)


def _superseded_home(hm: Hypermnesia, ns: Namespace) -> tuple[MemoryUnit, MemoryUnit] | None:
    """A closed fact naming Boston and the current Denver fact that superseded it, if any."""
    from memory.model import Granularity, UnitFilter

    facts = hm.store.units(ns, UnitFilter(granularities=frozenset({Granularity.FACT})))
    by_id = {u.id: u for u in facts}
    for old in facts:
        new = by_id.get(old.superseded_by or "")
        if new is None or old.is_current or not new.is_current:
            continue
        if "boston" in old.text.casefold() and "denver" in new.text.casefold():
            return old, new
    return None


def _supersede_problems(
    hm: Hypermnesia, ns: Namespace, pair: tuple[MemoryUnit, MemoryUnit] | None
) -> list[str]:
    """What is wrong with the Boston → Denver supersession; prints the Denver fact's history."""
    if pair is None:
        return ["no closed Boston fact superseded by a current Denver fact"]
    old, new = pair
    events = hm.history(ns, new.id)
    print_history(new.id, events, hm.store.get(ns, history_ids(new.id, events)))
    if not any(ev.op == "supersede" and old.id in ev.unit_ids for ev in events):
        return [f"the history of {new.id} has no supersede event naming {old.id}"]
    return []


def demo_update(hm: Hypermnesia, ns: Namespace) -> tuple[Check, str]:
    question = "Where does Sam live now?"
    result = hm.recall(ns, question, budget=400)
    out.print(evidence_table(result, title=f"1 · An updated fact: {question!r}", limit=5))
    claim = "Sam lives in Denver now; the Boston fact is superseded, not erased"
    denver = [n for n, e in enumerate(result.evidence, start=1) if _mentions(e, "denver")]
    stale = [
        e
        for e in result.evidence
        if e.granularity == "fact" and e.current and _mentions(e, "boston")
    ]
    problems = [] if denver else ["no evidence names Denver"]
    if stale:
        problems.append(f"a current fact still says {escape(stale[0].text)!r}")
    pair = _superseded_home(hm, ns)
    problems += _supersede_problems(hm, ns, pair)
    if problems or pair is None:
        return Check(claim, False, "; ".join(problems)), result.run_id
    old, new = pair
    in_evidence = any(e.unit_id == new.id for e in result.evidence)
    detail = (
        f"Denver is in evidence #{denver[0]}; {escape(old.text)!r} was closed on "
        f"{when(old.valid_to)} by {escape(new.text)!r}"
        + ("" if in_evidence else " (that fact itself was not packed into this recall)")
    )
    return Check(claim, True, detail), result.run_id


def demo_date(hm: Hypermnesia, ns: Namespace) -> tuple[Check, str]:
    question = "When did Sam adopt Biscuit?"
    result = hm.recall(ns, question, budget=400)
    out.print(evidence_table(result, title=f"2 · A relative date: {question!r}", limit=5))
    target = date(2023, 5, 7)
    claim = "'yesterday' on 8 May 2023 resolves to 7 May 2023"
    for e in result.evidence:
        dated = e.event_time is not None and e.event_time.date() == target
        spelled = target.isoformat() in e.text or "7 May 2023" in e.text
        if _mentions(e, "adopt") and (dated or spelled):
            detail = f"resolved to {target.isoformat()}: {escape(e.text)!r}"
            return Check(claim, True, detail), result.run_id
    adoption = [e for e in result.evidence if _mentions(e, "adopt")]
    seen = ", ".join(day(e.event_time) or "undated" for e in adoption) or "no adoption evidence"
    return Check(claim, False, f"adoption evidence dated {seen}"), result.run_id


def demo_multihop(hm: Hypermnesia, ns: Namespace) -> tuple[Check, str]:
    question = "Where does the person who helped Sam pick Biscuit work?"
    result = hm.recall(ns, question, budget=600)
    title = f"3 · Multi-hop through the hypergraph: {question!r}"
    out.print(evidence_table(result, title=title, limit=5))
    claim = "Maya → Flour Bakery, with evidence reached through the hypergraph"
    bakery = [e for e in result.evidence if _mentions(e, "flour bakery")]
    via_graph = [e for e in result.evidence if "graph" in e.source.split("+")]
    if bakery and via_graph:
        detail = (
            f"{escape(bakery[0].text)!r} (source {bakery[0].source}); "
            f"{len(via_graph)} unit(s) came via the graph"
        )
        return Check(claim, True, detail), result.run_id
    missing = []
    if not bakery:
        missing.append("no evidence names Flour Bakery")
    if not via_graph:
        missing.append("no evidence came via the graph")
    return Check(claim, False, "; ".join(missing)), result.run_id


def inference_problems(insight: MemoryUnit, units: dict[str, MemoryUnit]) -> list[str]:
    """Why ``insight`` is not an inference drawn only from stored evidence, if it is not."""
    from memory.model import UnitKind

    problems = []
    if insight.kind != UnitKind.INFERENCE:
        problems.append(f"insight {insight.id} is kind={insight.kind.value}")
    if not insight.derived_from:
        problems.append(f"insight {insight.id} derives from no unit")
    for source_id in insight.derived_from:
        source = units.get(source_id)
        if source is None:
            problems.append(f"insight {insight.id} derives from {source_id}, which is not stored")
        elif source.kind != UnitKind.EVIDENCE:
            problems.append(f"insight {insight.id} derives from {source_id}, not evidence")
    return problems


def demo_reflect(hm: Hypermnesia, ns: Namespace) -> tuple[Check, str]:
    result = hm.reflect(ns)
    units = reflected_units(hm, ns, result)
    title = "4 · The reflector, on demand: insights and personas drawn from the facts"
    out.print(reflection_tree(result, units, f"[bold]{title}[/]"))
    claim = "the reflector wrote insights as inferences derived only from stored evidence"
    insights = [
        units[d.unit_id]
        for d in result.decisions
        if d.granularity == "insight" and d.unit_id in units
    ]
    if not insights:
        return Check(claim, False, "no insight was stored"), result.run_id
    problems = [p for insight in insights for p in inference_problems(insight, units)]
    if problems:
        return Check(claim, False, "; ".join(problems)), result.run_id
    personas = sum(d.granularity == "persona" and d.unit_id in units for d in result.decisions)
    shown = next((u for u in insights if u.is_current), insights[0])
    detail = (
        f"{len(insights)} insight(s) and {personas} persona(s), kind=inference; "
        f"{escape(shorten(shown.text, 80))!r} derives from {len(shown.derived_from)} stored "
        "evidence unit(s)"
    )
    return Check(claim, True, detail), result.run_id


STEPS: tuple[tuple[str, Step], ...] = (
    ("updated fact", demo_update),
    ("relative date", demo_date),
    ("multi-hop", demo_multihop),
    ("reflection", demo_reflect),
)


def _claims_panel(checks: list[Check]) -> Panel:
    lines = [
        f"[green]✓[/] {c.claim}: {c.detail}" if c.held else f"[bold red]✗ {c.claim}[/]: {c.detail}"
        for c in checks
    ]
    held = sum(c.held for c in checks)
    colour = "green" if held == len(checks) else "red"
    title = f"[{colour}]{held}/{len(checks)} claims held[/]"
    return Panel("\n".join(lines), title=title, expand=False)


def _trace_panel(root: Path, run_ids: dict[str, str], writes: tuple[str, str]) -> Panel:
    hint = "\n".join(
        f"{n}. {label}: [cyan]{r}[/]" for n, (label, r) in enumerate(run_ids.items(), start=1)
    )
    hint += f"\nwrites: {writes[0]} … {writes[1]}"
    hint += f"\n\n[bold]python app.py --data-dir {root} traces show {run_ids['multi-hop']}[/]"
    return Panel(hint, title="Trace ids", expand=False)


def run_demo(sample: Path, root: Path) -> int:
    """Run the demo on ``sample`` in ``root``; returns how many claims did not hold."""
    started = time.perf_counter()
    (conversation,) = load_conversation_file(sample)
    ns = namespace("sam", "demo")
    out.print(
        Panel(
            f"Ingesting [bold]{sample.name}[/] ({len(conversation.sessions)} sessions, "
            f"{conversation.turn_count} turns) into namespace [bold]{ns}[/] under {root}\n"
            "Deterministic agents, no LLM.",
            title="Hypermnesia demo",
            expand=False,
        )
    )
    with open_engine(root, deterministic=True) as hm:
        (report,) = ingest(hm, [(ns, conversation)])
        ingest_seconds = time.perf_counter() - started
        out.print(ingest_table(report))
        checks, run_ids = [], {}
        for label, step in STEPS:
            check, run_ids[label] = step(hm, ns)
            checks.append(check)
        stats = hm.store.stats(ns)
    out.print(_claims_panel(checks))
    writes = (report.sessions[0].run_id, report.sessions[-1].run_id)
    out.print(_trace_panel(root, run_ids, writes))
    out.print(stats_table(stats, time.perf_counter() - started, ingest_seconds))
    failed = sum(not c.held for c in checks)
    if failed:
        err.print(f"[bold red]{failed} demo claim(s) did not hold.[/]")
    return failed


#: The bundled sample conversation the demo ingests.
DEMO_FILE = Path(__file__).resolve().parents[2] / "evals" / "samples" / "demo_conversation.json"


def demo_command(data_dir: Path | None) -> None:
    """The ``demo`` command: a fresh temp folder unless ``data_dir``; exit status 1 if a claim
    did not hold."""
    root = data_dir or Path(tempfile.mkdtemp(prefix="hypermnesia-demo-"))
    if run_demo(DEMO_FILE, root):
        raise typer.Exit(1)
