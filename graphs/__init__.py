"""The agent graphs: state, run context, routing, the write and read graphs, and the engine.

``Hypermnesia`` is what applications hold; ``graphs.memory_node`` plugs it into a LangGraph
chatbot; ``graphs.write_graph`` / ``graphs.read_graph`` expose ``builder`` and ``graph``.

Names are resolved lazily: the agents import ``graphs.context`` and ``graphs.state``, and the
graphs import the agents, so importing the engine here eagerly would be circular.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {
    "Hypermnesia": "graphs.client",
    "RunContext": "graphs.context",
    "Evidence": "graphs.results",
    "RecallResult": "graphs.results",
    "RememberResult": "graphs.results",
    "WriteDecision": "graphs.results",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'graphs' has no attribute {name!r}")
