"""The read graph: retriever ⇄ judge, with the refresher resolving conflicts the judge finds.

retriever → judge → END when the evidence is sufficient (or the iterations are spent);
judge → retriever with a refined query while it is insufficient; judge → refresher → retriever when
two current facts disagree.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agents.context import RunContext
from agents.judge import judge_read
from agents.refresher import refresh_read
from agents.retriever import retriever
from agents.state import ReadState
from graphs.routing import after_judge

__all__ = ["builder", "graph"]

builder = StateGraph(ReadState, context_schema=RunContext)
builder.add_node("retriever", retriever)
builder.add_node("judge", judge_read)
builder.add_node("refresher", refresh_read)
builder.add_edge(START, "retriever")
builder.add_edge("retriever", "judge")
builder.add_conditional_edges("judge", after_judge, ["retriever", "refresher", END])
builder.add_edge("refresher", "retriever")

graph = builder.compile(name="hypermnesia-read")
