"""Recorded runs exported as OpenTelemetry spans: one root per run, a child per step, a grandchild
per LLM call, with the trace's attributes and times."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from graphs.client import Hypermnesia
from graphs.otel import export_runs
from memory.embeddings import HashingEmbedder
from memory.fake_llm import ScriptedLLM
from memory.settings import Settings
from prompts.judge import SufficiencyVerdict
from prompts.retriever import QueryAnalysis
from tests.agent_fixtures import SAM, ingest_sample


def test_a_read_and_a_write_become_span_trees_with_the_traces_attributes(tmp_path: Path) -> None:
    settings = Settings(embedder="fake", llm_model=None)
    with Hypermnesia.open(tmp_path, settings=settings, embedder=HashingEmbedder()) as hm:
        ingest_sample(hm)
        hm.llm = ScriptedLLM(
            [
                QueryAnalysis(rewritten_query="Maya workplace"),
                SufficiencyVerdict(
                    sufficient=True, reason="ok", refined_query=None, conflicting_ids=[]
                ),
            ]
        )
        result = hm.recall(SAM, "Where does Maya work?")
        hm.llm = None
        read = hm.traces.get(result.run_id)
        write = hm.traces.get(hm.traces.list_runs(SAM.key, limit=50)[-1].run_id)
    exporter = InMemorySpanExporter()
    sent = export_runs([read, write], exporter)
    spans = exporter.get_finished_spans()
    calls = sum(len(s.llm_calls) for s in read.steps)
    assert calls == 2 and sent == len(spans) == 2 + len(read.steps) + len(write.steps) + calls

    (root,) = [s for s in spans if s.name == "hypermnesia.read"]
    assert root.parent is None and root.attributes is not None
    assert root.attributes["hypermnesia.run_id"] == read.run_id
    assert root.attributes["hypermnesia.input.question"] == "Where does Maya work?"
    steps = [s for s in spans if s.parent is not None and s.parent.span_id == root.context.span_id]
    assert [s.name for s in steps] == [s.agent for s in read.steps]
    retriever = next(s for s in steps if s.name == "retriever")
    assert retriever.attributes is not None
    packed = tuple(e.unit_id for e in result.evidence)
    assert retriever.attributes["hypermnesia.packed_unit_ids"] == packed
    llm = [s for s in spans if s.name.startswith("llm ")]
    assert {s.parent.span_id for s in llm if s.parent} <= {s.context.span_id for s in steps}
    assert all(s.context.trace_id == root.context.trace_id for s in [*steps, *llm])
    assert all(root.start_time <= s.start_time <= s.end_time <= root.end_time for s in steps)
    assert root.status.status_code != StatusCode.ERROR

    (wroot,) = [s for s in spans if s.name == "hypermnesia.write"]
    assert wroot.context.trace_id != root.context.trace_id
    judge = next(
        s for s in spans if s.name == "judge" and s.context.trace_id == wroot.context.trace_id
    )
    assert judge.attributes is not None and judge.attributes["hypermnesia.decisions"]
