"""Stage 2a of the read path: the routing decision, taken by the run's policy on the first pass.

Later passes keep it (the policy is asked again with the first pass's features), so a run has one
routing action and its reward can be laid at that action's door. Without a policy the hand-set
route is taken and no features are computed (the probe costs a dense and a lexical search).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from agents.policy import HAND_SET, Policy, RouteChoice, RouteFeatures
from agents.recipes import Recipe
from agents.retrieval.features import route_features
from agents.retrieval.types import QueryPlan
from agents.retrieval.view import NamespaceView
from memory.model import Namespace
from memory.store import MemoryStore

__all__ = ["choose_route"]


def choose_route(
    policy: Policy | None,
    store: MemoryStore,
    ns: Namespace,
    view: NamespaceView,
    plan: QueryPlan,
    recipe: Recipe,
    *,
    reference: date | None = None,
    previous: dict[str, Any] | None = None,
) -> RouteChoice:
    """The routing choice of this pass; ``previous`` is the first pass's (``as_json``), if any."""
    if policy is None:
        return RouteChoice(HAND_SET, 0.0, RouteFeatures((), ()))
    if previous is not None:
        saved = previous.get("features", {})
        return policy.route(RouteFeatures(tuple(saved), tuple(float(v) for v in saved.values())))
    return policy.route(route_features(store, ns, view, plan, recipe, reference))
