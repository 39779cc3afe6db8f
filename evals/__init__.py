"""The evaluation harness: benchmark loaders, the systems under test, runners, metrics, reports.

A run (``app.py eval``) loads a dataset (:mod:`evals.loaders`), ingests each conversation into
every system (:mod:`evals.systems` is the seam; :mod:`evals.hypermnesia` and
:mod:`evals.baselines` are the systems), asks every question at several token budgets
(:mod:`evals.runner`), scores evidence recall and rank metrics (:mod:`evals.metrics`) and writes
the report (:mod:`evals.report`). :mod:`evals.bench` holds the benchmarks.
"""

from __future__ import annotations

from evals.systems import (
    Conversation,
    EvalTurn,
    Question,
    RetrievalSystem,
    RetrievedItem,
    make_system,
    register_system,
)

__all__ = [
    "Conversation",
    "EvalTurn",
    "Question",
    "RetrievalSystem",
    "RetrievedItem",
    "make_system",
    "register_system",
]
