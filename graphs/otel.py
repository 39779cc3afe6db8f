"""Recorded runs as OpenTelemetry spans, for users who already collect traces (Jaeger, Tempo,
Langfuse or any OTLP collector).

A run is a root span (``hypermnesia.read`` or ``hypermnesia.write``) over the run's start and end;
each step a child span named after its agent, ending when the step was recorded; each LLM call a
child of its step. The attributes are the ones the trace viewer shows: the run's id, namespace,
status and inputs; a step's decision, reason, fallback and packed units; a call's prompt, model,
tokens, cost and error. Spans are exported after the fact with their recorded times, so a run can
be exported at any time, and again (each export makes new span ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from memory.traces import LLMCallTrace, TraceRun, TraceStep

__all__ = ["export_runs", "run_attributes"]

_SERVICE = "hypermnesia"
_TRACER = "hypermnesia.traces"


def export_runs(runs: Iterable[TraceRun], exporter: SpanExporter) -> int:
    """Send ``runs`` (with their steps) to ``exporter`` as spans; the number of spans sent."""
    provider = TracerProvider(resource=Resource.create({"service.name": _SERVICE}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(_TRACER)
    sent = 0
    try:
        for run in runs:
            sent += _run_spans(tracer, run)
    finally:
        provider.shutdown()
    return sent


def run_attributes(run: TraceRun) -> dict[str, AttributeValue]:
    """The root span's attributes: the run's id, graph, namespace, status and scalar inputs."""
    attrs: dict[str, AttributeValue] = {
        "hypermnesia.run_id": run.run_id,
        "hypermnesia.graph": run.graph,
        "hypermnesia.namespace": run.namespace,
        "hypermnesia.status": run.status,
    }
    for key, value in run.input.items():
        if isinstance(value, str | int | float | bool):
            attrs[f"hypermnesia.input.{key}"] = value
    return attrs


def _ns(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


def _run_spans(tracer: Tracer, run: TraceRun) -> int:
    steps_end = max((s.at for s in run.steps), default=run.started_at)
    end = run.finished_at or steps_end
    root = tracer.start_span(
        f"hypermnesia.{run.graph}", attributes=run_attributes(run), start_time=_ns(run.started_at)
    )
    if run.status not in ("ok", "running"):
        root.set_status(Status(StatusCode.ERROR, run.status))
    sent = 1
    within = trace.set_span_in_context(root)
    for s in run.steps:
        began = max(run.started_at, s.at - timedelta(milliseconds=s.duration_ms))
        span = tracer.start_span(
            s.agent, context=within, attributes=_step_attributes(s), start_time=_ns(began)
        )
        if s.fallback:
            span.set_status(Status(StatusCode.ERROR, s.fallback))
        sent += 1 + _call_spans(tracer, span, s.llm_calls, began)
        span.end(end_time=_ns(s.at))
    root.end(end_time=_ns(max(end, steps_end)))
    return sent


def _step_attributes(s: TraceStep) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {
        "hypermnesia.agent": s.agent,
        "hypermnesia.decision": s.decision,
        "hypermnesia.reason": s.reason,
        "hypermnesia.duration_ms": s.duration_ms,
        "hypermnesia.llm_calls": len(s.llm_calls),
    }
    if s.fallback:
        attrs["hypermnesia.fallback"] = s.fallback
    if s.retrieved:
        attrs["hypermnesia.packed_unit_ids"] = [uid for uid, _ in s.retrieved]
    if s.candidates:
        attrs["hypermnesia.candidates"] = len(s.candidates)
    if s.route:
        attrs.update({f"hypermnesia.route.{g}": w for g, w in s.route.items()})
    if s.decisions:
        attrs["hypermnesia.decisions"] = [f"{d.unit_id}: {d.decision}" for d in s.decisions]
    return attrs


def _call_spans(tracer: Tracer, step: Span, calls: list[LLMCallTrace], began: datetime) -> int:
    """One span per call, laid end to end from the step's start (a call keeps no start time)."""
    within = trace.set_span_in_context(step)
    at = began
    for call in calls:
        attrs: dict[str, AttributeValue] = {
            "gen_ai.request.model": call.model,
            "hypermnesia.prompt": call.prompt,
            "hypermnesia.attempts": call.attempts,
            "hypermnesia.latency_ms": call.latency_ms,
        }
        if call.input_tokens is not None:
            attrs["gen_ai.usage.input_tokens"] = call.input_tokens
        if call.output_tokens is not None:
            attrs["gen_ai.usage.output_tokens"] = call.output_tokens
        if call.cost_usd is not None:
            attrs["hypermnesia.cost_usd"] = call.cost_usd
        span = tracer.start_span(
            f"llm {call.prompt}", context=within, attributes=attrs, start_time=_ns(at)
        )
        if not call.ok:
            span.set_status(Status(StatusCode.ERROR, call.error or "failed"))
        at += timedelta(milliseconds=call.latency_ms)
        span.end(end_time=_ns(at))
    return len(calls)
