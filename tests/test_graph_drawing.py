"""Snapshots of the graph wiring: any rewiring shows up as a diff here."""

from __future__ import annotations

from graphs import read_graph, write_graph

WRITE = """\
graph TD;
	__start__([<p>__start__</p>]):::first
	constructor(constructor)
	judge(judge)
	refresher(refresher)
	reflector(reflector)
	__end__([<p>__end__</p>]):::last
	__start__ --> constructor;
	constructor --> judge;
	judge --> refresher;
	reflector --> judge;
	refresher -.-> __end__;
	refresher -.-> reflector;
	classDef default fill:#f2f0ff,line-height:1.2
	classDef first fill-opacity:0
	classDef last fill:#bfb6fc
"""

READ = """\
graph TD;
	__start__([<p>__start__</p>]):::first
	retriever(retriever)
	judge(judge)
	refresher(refresher)
	__end__([<p>__end__</p>]):::last
	__start__ --> retriever;
	judge -.-> __end__;
	judge -.-> refresher;
	judge -.-> retriever;
	refresher --> retriever;
	retriever --> judge;
	classDef default fill:#f2f0ff,line-height:1.2
	classDef first fill-opacity:0
	classDef last fill:#bfb6fc
"""


def _strip_header(mermaid: str) -> str:
    return mermaid[mermaid.index("graph TD;") :]


def test_write_graph_wiring() -> None:
    assert _strip_header(write_graph.graph.get_graph().draw_mermaid()) == WRITE


def test_read_graph_wiring() -> None:
    assert _strip_header(read_graph.graph.get_graph().draw_mermaid()) == READ
