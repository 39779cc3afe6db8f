"""The memory policy as explicit actions: what an agent decides, on which features, by whose rule.

Every decision a policy could make is a typed action recorded with the features it was taken on:
the retriever's routing (:class:`RouteAction`), the judge's write decisions (:class:`WriteAction`)
and the reflector's timing (:class:`ReflectAction`). :class:`Policy` is the hook: the hand-set
behaviour is :class:`HandSetPolicy` (what runs when no policy is given), and a user may pass their
own — a trained router (:mod:`evals.rl.router`) or a fixed action for rollouts
(:class:`FixedRoutePolicy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agents.recipes import Recipe
from agents.results import Decision
from memory.errors import InvalidInputError

__all__ = [
    "HAND_SET",
    "ROUTE_ACTIONS",
    "FixedRoutePolicy",
    "HandSetPolicy",
    "Policy",
    "ReflectAction",
    "RouteAction",
    "RouteChoice",
    "RouteFeatures",
    "WriteAction",
    "WriteFeatures",
    "feature_vector",
    "route_action",
]


@dataclass(frozen=True)
class RouteAction:
    """One way to run the read path: granularity, source and budget choices over a recipe.

    ``granularity`` multiplies the router's weight of a granularity; ``sources`` replaces the
    recipe's weight of a source; ``graph`` switches the graph walk; ``iterate`` lets the judge ask
    for more passes; ``budget_share`` is the part of the token budget packed.
    """

    name: str
    granularity: Mapping[str, float] = field(default_factory=dict)
    sources: Mapping[str, float] = field(default_factory=dict)
    pool: int | None = None
    graph: bool = True
    iterate: bool = True
    budget_share: float = 1.0

    def apply(self, recipe: Recipe) -> Recipe:
        """``recipe`` with this action's pool, graph switch and source weights."""
        update: dict[str, Any] = {f"{s}_weight": w for s, w in self.sources.items()}
        if self.pool is not None:
            update["pool"] = self.pool
        if not self.graph:
            update["graph"] = False
        return recipe.model_copy(update=update) if update else recipe

    def scale_route(self, route: Mapping[str, float]) -> dict[str, float]:
        """The router's granularity weights times this action's multipliers."""
        out = dict(route)
        for gran, factor in self.granularity.items():
            out[gran] = out.get(gran, 1.0) * factor
        return out

    def budget(self, budget: int) -> int:
        """The tokens this action packs out of ``budget``."""
        return max(1, int(budget * self.budget_share))


HAND_SET = RouteAction("hand-set")
"""Today's behaviour: the recipe and the entropy router as they are."""

ROUTE_ACTIONS: tuple[RouteAction, ...] = (
    HAND_SET,
    RouteAction("turns", granularity={"turn": 1.5, "fact": 0.7}),
    RouteAction("facts", granularity={"fact": 1.5, "turn": 0.8}),
    RouteAction("no-graph", graph=False),
    RouteAction("graph-heavy", sources={"graph": 1.0}),
    RouteAction("lexical-heavy", sources={"lexical": 1.6, "dense": 0.8}),
    RouteAction("dense-heavy", sources={"dense": 1.6, "lexical": 0.7}),
    RouteAction("wide-pool", pool=120),
    RouteAction("one-pass", iterate=False),
    RouteAction("lean", budget_share=0.85),
)
"""The routing actions a policy chooses among; the first is the hand-set one."""


def route_action(name: str) -> RouteAction:
    """The routing action called ``name``; an unknown name lists the known ones."""
    for action in ROUTE_ACTIONS:
        if action.name == name:
            return action
    known = ", ".join(a.name for a in ROUTE_ACTIONS)
    raise InvalidInputError(f"unknown routing action {name!r}; known: {known}")


@dataclass(frozen=True)
class RouteFeatures:
    """What a routing decision sees: named numbers (query analysis, score entropies, embedding)."""

    names: tuple[str, ...]
    values: tuple[float, ...]

    def as_dict(self) -> dict[str, float]:
        return {n: round(v, 6) for n, v in zip(self.names, self.values, strict=True)}


@dataclass(frozen=True)
class RouteChoice:
    """A routing action, its log-probability under the policy that chose it, and the features."""

    action: RouteAction
    logprob: float
    features: RouteFeatures

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": "retriever",
            "action": self.action.name,
            "logprob": round(self.logprob, 6),
            "features": self.features.as_dict(),
        }


@dataclass(frozen=True)
class WriteFeatures:
    """What the judge's write decision on one proposed unit saw."""

    granularity: str
    similarity: float
    """Cosine similarity to the closest stored unit (0 when none)."""
    same_slot: bool
    """A current stored fact sets the same attribute of the same subject."""


@dataclass(frozen=True)
class WriteAction:
    """The judge's decision on one proposed unit, with its features."""

    unit_id: str
    decision: Decision
    features: WriteFeatures

    def as_json(self) -> dict[str, Any]:
        f = self.features
        return {
            "agent": "judge",
            "unit_id": self.unit_id,
            "action": self.decision,
            "features": {
                "granularity": f.granularity,
                "similarity": round(f.similarity, 6),
                "same_slot": f.same_slot,
            },
        }


@dataclass(frozen=True)
class ReflectAction:
    """The reflector's timing: reflect now or later, given the new facts since the last time."""

    reflect: bool
    new_facts: int
    threshold: int

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": "reflector",
            "action": "reflect" if self.reflect else "wait",
            "features": {"new_facts": self.new_facts, "threshold": self.threshold},
        }


@runtime_checkable
class Policy(Protocol):
    """The hook: a policy routes each question and may revise write decisions and reflection."""

    name: str

    def route(self, features: RouteFeatures) -> RouteChoice: ...

    def write(self, features: WriteFeatures, proposed: Decision) -> Decision: ...

    def reflect(self, new_facts: int, threshold: int) -> bool: ...


class HandSetPolicy:
    """Today's rules: the hand-set route, the gate's decisions, reflection at the threshold."""

    name = "hand-set"

    def route(self, features: RouteFeatures) -> RouteChoice:
        return RouteChoice(HAND_SET, 0.0, features)

    def write(self, features: WriteFeatures, proposed: Decision) -> Decision:
        return proposed

    def reflect(self, new_facts: int, threshold: int) -> bool:
        return threshold > 0 and new_facts >= threshold


class FixedRoutePolicy(HandSetPolicy):
    """Always the same routing action (a rollout's), hand-set everywhere else."""

    def __init__(self, action: RouteAction, logprob: float = 0.0) -> None:
        self.action = action
        self.logprob = logprob
        self.name = f"fixed:{action.name}"

    def route(self, features: RouteFeatures) -> RouteChoice:
        return RouteChoice(self.action, self.logprob, features)


def feature_vector(features: RouteFeatures, names: Sequence[str]) -> list[float]:
    """``features`` in the order of ``names``; a policy trained on other features is refused."""
    values = dict(zip(features.names, features.values, strict=True))
    missing = [n for n in names if n not in values]
    if missing:
        raise InvalidInputError(f"the policy expects features this run lacks: {missing[:5]}")
    return [values[n] for n in names]
