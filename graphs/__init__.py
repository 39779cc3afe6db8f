"""The agent graphs: state, run context, routing, the write and read graphs, and the engine.

``Hypermnesia`` is what applications hold; ``graphs.memory_node`` plugs it into a LangGraph
chatbot; ``graphs.write_graph`` / ``graphs.read_graph`` expose ``builder`` and ``graph``.
"""

from __future__ import annotations

from graphs.client import Hypermnesia
from graphs.context import RunContext
from graphs.results import Evidence, RecallResult, RememberResult, WriteDecision

__all__ = [
    "Evidence",
    "Hypermnesia",
    "RecallResult",
    "RememberResult",
    "RunContext",
    "WriteDecision",
]
