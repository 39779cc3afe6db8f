"""The graphs: the agents wired into a write graph and a read graph, and the engine that runs them.

``Hypermnesia`` is what applications hold; ``graphs.memory_node`` plugs it into a LangGraph
chatbot; ``graphs.write_graph`` / ``graphs.read_graph`` expose ``builder`` and ``graph``. The node
contract (state, run context, results) belongs to the agents and is re-exported here.
"""

from __future__ import annotations

from agents.context import RunContext
from agents.results import Evidence, RecallResult, RememberResult, WriteDecision
from graphs.client import Hypermnesia

__all__ = [
    "Evidence",
    "Hypermnesia",
    "RecallResult",
    "RememberResult",
    "RunContext",
    "WriteDecision",
]
