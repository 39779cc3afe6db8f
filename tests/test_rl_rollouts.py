"""Fair rollouts: the policy hook on the read and write paths, frozen reads, isolated forks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from agents.policy import (
    HAND_SET,
    ROUTE_ACTIONS,
    FixedRoutePolicy,
    HandSetPolicy,
    RouteFeatures,
    WriteFeatures,
    route_action,
)
from agents.results import Decision
from evals.rl.grpo import LinearPolicy, reference_logprobs
from evals.rl.router import LearnedRouter
from evals.rl.writes import write_rollouts
from graphs.client import Hypermnesia
from graphs.rollout import fork_data_folder, frozen_recall
from memory.embeddings import HashingEmbedder
from memory.errors import DataFolderInUseError, InvalidInputError
from memory.model import Granularity, Turn

from .agent_fixtures import SAM, ingest_sample

MULTI_HOP = "Where does the person who helped Sam pick Biscuit work?"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed data folder holding the sample conversation."""
    folder = tmp_path_factory.mktemp("sample")
    with Hypermnesia.open(folder, embedder=HashingEmbedder(), checkpoints=False) as hm:
        ingest_sample(hm)
    return folder


@pytest.fixture
def engine(sample_dir: Path, tmp_path: Path) -> Iterator[Hypermnesia]:
    with Hypermnesia.open(
        fork_data_folder(sample_dir, tmp_path / "copy"), embedder=HashingEmbedder()
    ) as hm:
        yield hm


def _ids(result: object) -> list[str]:
    return [e.unit_id for e in result.evidence]  # type: ignore[attr-defined]


def test_hand_set_route_is_recorded_without_features(engine: Hypermnesia) -> None:
    result = engine.recall(SAM, "What is Sam allergic to?", budget=200)
    assert result.route_action["action"] == "hand-set"
    assert result.route_action["features"] == {}


def test_a_policy_sees_features_and_its_choice_is_in_state_and_trace(engine: Hypermnesia) -> None:
    engine.policy = FixedRoutePolicy(route_action("turns"), logprob=-0.5)
    result = engine.recall(SAM, "What is Sam allergic to?", budget=200)
    choice = result.route_action
    assert choice["action"] == "turns" and choice["logprob"] == -0.5
    assert {"type:what", "dense:top", "entropy:turn", "embedding:0"} <= set(choice["features"])
    steps = [s for s in engine.traces.get(result.run_id).steps if s.agent == "retriever"]
    assert steps and all(s.outputs["policy"]["action"] == "turns" for s in steps)


def test_the_hand_set_policy_reads_exactly_as_no_policy(engine: Hypermnesia) -> None:
    for question in ("What is Sam allergic to?", MULTI_HOP, "Where does Sam live?"):
        plain = engine.recall(SAM, question, budget=150)
        engine.policy = HandSetPolicy()
        routed = engine.recall(SAM, question, budget=150)
        engine.policy = None
        assert _ids(routed) == _ids(plain)


def test_actions_change_the_read_path(engine: Hypermnesia) -> None:
    store = engine.store
    iterated = frozen_recall(store, SAM, MULTI_HOP, policy=FixedRoutePolicy(HAND_SET), budget=150)
    assert iterated.iterations >= 2
    one = frozen_recall(store, SAM, MULTI_HOP, policy=FixedRoutePolicy(route_action("one-pass")))
    assert one.iterations == 1
    lean = frozen_recall(
        store, SAM, "Sam", policy=FixedRoutePolicy(route_action("lean")), budget=400
    )
    assert 0 < lean.tokens <= 340


def test_frozen_rollouts_leave_no_mark_and_do_not_steer_each_other(engine: Hypermnesia) -> None:
    store = engine.store
    version = store.version(SAM)
    first = frozen_recall(store, SAM, MULTI_HOP, policy=FixedRoutePolicy(HAND_SET), budget=150)
    for action in ROUTE_ACTIONS:
        frozen_recall(store, SAM, MULTI_HOP, policy=FixedRoutePolicy(action), budget=150)
    again = frozen_recall(store, SAM, MULTI_HOP, policy=FixedRoutePolicy(HAND_SET), budget=150)
    assert _ids(again) == _ids(first)
    assert store.version(SAM) == version
    touched = store.get(SAM, _ids(first))
    assert touched and all(u.access_count == 0 for u in touched), "rollouts count no access"
    engine.recall(SAM, MULTI_HOP, budget=150)  # a real recall does count
    assert any(u.access_count > 0 for u in store.get(SAM, _ids(first)))


def _turn(text: str, i: int) -> Turn:
    when = datetime(2024, 1, 5, 10, tzinfo=UTC)
    return Turn(id=f"F{i}", session_id="SF", speaker="Sam", text=text, session_time=when, index=i)


def test_a_fork_is_isolated_both_ways(sample_dir: Path, tmp_path: Path) -> None:
    a = fork_data_folder(sample_dir, tmp_path / "a")
    b = fork_data_folder(sample_dir, tmp_path / "b")
    with (
        Hypermnesia.open(a, embedder=HashingEmbedder()) as original,
        Hypermnesia.open(b, embedder=HashingEmbedder()) as fork,
    ):
        assert fork.store.version(SAM) == original.store.version(SAM)
        before = {u.id for u in original.store.units(SAM)}
        assert {u.id for u in fork.store.units(SAM)} == before
        fork.remember(SAM, [_turn("I took up rock climbing in Boulder.", 0)])
        original.remember(SAM, [_turn("I bought a red kayak for the lake.", 0)])
        fork_texts = " ".join(u.text for u in fork.store.units(SAM))
        original_texts = " ".join(u.text for u in original.store.units(SAM))
    assert "rock climbing" in fork_texts and "kayak" not in fork_texts
    assert "kayak" in original_texts and "rock climbing" not in original_texts
    with Hypermnesia.open(sample_dir, embedder=HashingEmbedder()) as source:
        assert {u.id for u in source.store.units(SAM)} == before, "the source never changes"


def test_an_open_folder_cannot_be_forked(sample_dir: Path, tmp_path: Path) -> None:
    with (
        Hypermnesia.open(sample_dir, embedder=HashingEmbedder()),
        pytest.raises(DataFolderInUseError),
    ):
        fork_data_folder(sample_dir, tmp_path / "x")
    with pytest.raises(InvalidInputError, match="not a Hypermnesia data folder"):
        fork_data_folder(tmp_path, tmp_path / "y")


class _SkipFacts(HandSetPolicy):
    """Writes no fact at all, and never reflects."""

    name = "skip-facts"

    def write(self, features: WriteFeatures, proposed: Decision) -> Decision:
        return "skip" if features.granularity == Granularity.FACT.value else proposed

    def reflect(self, new_facts: int, threshold: int) -> bool:
        return False


def test_write_side_decisions_go_through_the_policy(sample_dir: Path, tmp_path: Path) -> None:
    folder = fork_data_folder(sample_dir, tmp_path / "w")
    with Hypermnesia.open(folder, embedder=HashingEmbedder(), policy=_SkipFacts()) as hm:
        facts = {u.id for u in hm.store.units(SAM) if u.granularity == Granularity.FACT}
        result = hm.remember(SAM, [_turn("My favourite colour is green and I live in Denver.", 1)])
        assert all(d.decision != "new" or d.granularity != "fact" for d in result.decisions)
        judge = [s for s in hm.traces.get(result.run_id).steps if s.agent == "judge"]
        actions = judge[0].outputs["policy"]
        assert actions and {a["agent"] for a in actions} == {"judge"}
        assert all("similarity" in a["features"] for a in actions)
        refresher = [s for s in hm.traces.get(result.run_id).steps if s.agent == "refresher"]
        assert refresher[0].outputs["policy"]["action"] == "wait"
        after = {u.id for u in hm.store.units(SAM) if u.granularity == Granularity.FACT}
        assert after == facts


def test_a_policy_may_not_invent_a_target(sample_dir: Path, tmp_path: Path) -> None:
    class _Dup(HandSetPolicy):
        def write(self, features: WriteFeatures, proposed: Decision) -> Decision:
            return "duplicate"

    folder = fork_data_folder(sample_dir, tmp_path / "d")
    hm = Hypermnesia.open(folder, embedder=HashingEmbedder(), policy=_Dup())
    with hm, pytest.raises(InvalidInputError, match="may only keep the gate's decision"):
        hm.remember(SAM, [_turn("I started a vegetable garden on my balcony.", 2)])


def test_a_learned_router_saves_loads_and_routes_greedily(tmp_path: Path) -> None:
    names = ["a", "b"]
    ref = reference_logprobs(len(ROUTE_ACTIONS))
    policy = LinearPolicy.like_reference(len(ROUTE_ACTIONS), 2, ref)
    policy.weights[3, 0] = 10.0  # feature a high: action 3
    router = LearnedRouter(list(ROUTE_ACTIONS), names, np.zeros(2), np.ones(2), policy)
    router.save(tmp_path / "p.json")
    loaded = LearnedRouter.load(tmp_path / "p.json")
    high = loaded.route(RouteFeatures(("b", "a"), (0.0, 1.0)))
    assert high.action == ROUTE_ACTIONS[3]
    assert high.logprob == pytest.approx(float(np.max(loaded.logprobs(high.features))))
    assert loaded.route(RouteFeatures(("a", "b"), (-1.0, 0.0))).action == HAND_SET
    with pytest.raises(InvalidInputError, match="lacks"):
        loaded.route(RouteFeatures(("a",), (1.0,)))
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(InvalidInputError, match="not a router policy"):
        LearnedRouter.load(tmp_path / "bad.json")


class _NeverUpdate(HandSetPolicy):
    """Keeps the old value of a slot current beside the new one."""

    name = "never-update"

    def write(self, features: WriteFeatures, proposed: Decision) -> Decision:
        return "new" if proposed == "update" else proposed


def test_write_rollouts_compare_policies_from_one_state(sample_dir: Path) -> None:
    with Hypermnesia.open(sample_dir, embedder=HashingEmbedder()) as hm:
        before = {u.id for u in hm.store.units(SAM)}
    turns = [_turn("Big news: I moved to Austin last week for a new job.", 3)]
    outcomes = write_rollouts(
        sample_dir, SAM, turns, [HandSetPolicy(), _NeverUpdate(), _SkipFacts()],
        embedder=HashingEmbedder(),
    )  # fmt: skip
    hand_set, never, skip = outcomes
    assert [o.policy for o in outcomes] == ["hand-set", "never-update", "skip-facts"]
    assert hand_set.decisions.get("update", 0) >= 1
    assert never.decisions.get("update", 0) == 0
    assert never.reward < hand_set.reward, "two current values of one slot are inconsistent"
    assert skip.decisions.get("skip", 0) >= 1 and "update" not in skip.decisions
    with Hypermnesia.open(sample_dir, embedder=HashingEmbedder()) as hm:
        assert {u.id for u in hm.store.units(SAM)} == before, "no rollout reached the source"
