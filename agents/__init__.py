"""The five agents, one module each, and the contract their nodes share.

- :mod:`agents.constructor` builds units from turns; :mod:`agents.judge` gates writes and judges
  evidence; :mod:`agents.refresher` applies decisions (store, merge, supersede);
  :mod:`agents.reflector` consolidates facts into insights and personas; :mod:`agents.retriever`
  finds and packs evidence (its stages are in :mod:`agents.retrieval`).
- The node contract: :mod:`agents.state` (what nodes read and return), :mod:`agents.context`
  (the run context every node receives), :mod:`agents.results` (what runs return to callers).
- :mod:`agents.policy` is the policy hook: every decision a policy could take as a typed action,
  the :class:`Policy` protocol, and the hand-set rules as the default policy.
- :mod:`agents.recipes` names the retriever's configurations; :mod:`agents.analysis` holds the
  deterministic text analysis.

Each node is ``def node(state, runtime) -> state``; the wiring is in :mod:`graphs`.
"""

from __future__ import annotations

from agents.constructor import constructor
from agents.context import Mode, RunContext, Thresholds
from agents.judge import judge_read, judge_write
from agents.policy import ROUTE_ACTIONS, HandSetPolicy, Policy, RouteAction
from agents.recipes import RECIPES, Recipe, get_recipe
from agents.reflector import reflector
from agents.refresher import refresh_read, refresh_write
from agents.results import (
    Decision,
    Evidence,
    RecallResult,
    RememberResult,
    Verdict,
    WriteDecision,
)
from agents.retriever import retriever
from agents.state import Candidate, ReadState, WriteState

__all__ = [
    "RECIPES",
    "ROUTE_ACTIONS",
    "Candidate",
    "Decision",
    "Evidence",
    "HandSetPolicy",
    "Mode",
    "Policy",
    "ReadState",
    "RecallResult",
    "Recipe",
    "RememberResult",
    "RouteAction",
    "RunContext",
    "Thresholds",
    "Verdict",
    "WriteDecision",
    "WriteState",
    "constructor",
    "get_recipe",
    "judge_read",
    "judge_write",
    "reflector",
    "refresh_read",
    "refresh_write",
    "retriever",
]
