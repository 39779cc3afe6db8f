"""The write graph: constructor → judge gate → refresher → (reflector → judge gate → refresher).

The raw turns are journaled by the caller before the graph starts, so a failure inside the graph
never loses a turn. The reflector runs at most once per write, when the refresher finds it due.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agents.constructor import constructor
from agents.context import RunContext
from agents.judge import judge_write
from agents.reflector import reflector
from agents.refresher import refresh_write
from agents.state import WriteState
from graphs.routing import after_refresh

__all__ = ["builder", "graph"]

builder = StateGraph(WriteState, context_schema=RunContext)
builder.add_node("constructor", constructor)
builder.add_node("judge", judge_write)
builder.add_node("refresher", refresh_write)
builder.add_node("reflector", reflector)
builder.add_edge(START, "constructor")
builder.add_edge("constructor", "judge")
builder.add_edge("judge", "refresher")
builder.add_conditional_edges("refresher", after_refresh, ["reflector", END])
builder.add_edge("reflector", "judge")

graph = builder.compile(name="hypermnesia-write")
