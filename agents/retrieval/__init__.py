"""The retriever's read path as typed stages, each a small function with tests of its own.

analyse (:mod:`.analyse`) → the run policy's routing decision on the query's features
(:mod:`.decide`, :mod:`.features`) → candidates per source (:mod:`.sources`) → route
(:mod:`.route`) → fuse and adjust (:mod:`.fuse`) → merge the passes of a run (:mod:`.iterations`)
→ pack into the token budget (:mod:`.pack`). :mod:`.pipeline` runs one pass's stages in order;
the namespace view (:mod:`.view`) holds what they read besides the store; :mod:`.types` names
what they pass on.
"""

from __future__ import annotations

from agents.retrieval.analyse import cached_query_analysis, plan_query
from agents.retrieval.iterations import merge_passes
from agents.retrieval.pack import pack
from agents.retrieval.pipeline import rank_candidates, search_sources
from agents.retrieval.present import present
from agents.retrieval.types import Hit, Packed, QueryPlan, SourceHits
from agents.retrieval.view import NamespaceView, build_view, update_view, view_for

__all__ = [
    "Hit",
    "NamespaceView",
    "Packed",
    "QueryPlan",
    "SourceHits",
    "build_view",
    "cached_query_analysis",
    "merge_passes",
    "pack",
    "plan_query",
    "present",
    "rank_candidates",
    "search_sources",
    "update_view",
    "view_for",
]
