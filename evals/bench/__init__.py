"""Benchmarks that print their figures side by side with baselines measured in the same run.

``app.py bench vector`` (:mod:`evals.bench.vector`), ``bench store`` (:mod:`evals.bench.store`)
and ``bench graph`` (:mod:`evals.bench.graph`); each ends with one JSON line under ``--json``.
"""

from __future__ import annotations

__all__: list[str] = []
