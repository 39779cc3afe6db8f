"""The learned re-ranker: its features, the head move, the model file, training and the command."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agents.recipes import get_recipe
from agents.retrieval import QueryPlan, rank_candidates, search_sources, view_for
from agents.retrieval.rerank import (
    DEFAULT_MODEL,
    FEATURES,
    LinearReranker,
    _has_prefix,
    budget_scores,
    candidate_features,
    default_reranker,
    head_scores,
    rerank_head,
)
from agents.state import Candidate
from app import app
from evals.rerank_training import QuestionRows, fit, held_out, ranking_metrics
from memory.errors import InvalidInputError
from memory.model import Granularity, Namespace, make_unit
from memory.store import MemoryStore

NS = Namespace(user_id="ana")
DATA = Path(__file__).parent / "data" / "locomo_small.json"


SAID = [
    ("Ana", "I finally adopted a grey cat from the shelter, her name is Mochi."),
    ("Ben", "Congratulations! How is Mochi settling in?"),
    ("Ana", "She hides under the sofa but loves the feather toy."),
    ("Ben", "My brother plays the cello in an orchestra in Lyon."),
    ("Ana", "I started pottery classes on Tuesday evenings."),
    ("Ben", "Did you make a bowl yet? I would like one."),
]
CHAT = [
    make_unit(
        NS,
        Granularity.TURN,
        text,
        provenance=[f"D1:{n}"],
        session_id="S1",
        speaker=who,
        entities=(who,),
    )
    for n, (who, text) in enumerate(SAID, start=1)
]


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    store = open_store(backend="memory")
    store.add_units(NS, CHAT)
    return store


def _candidates(n: int) -> list[Candidate]:
    return [Candidate(unit_id=f"u{i}", score=float(n - i), sources=["dense"]) for i in range(n)]


def test_the_head_moves_in_model_order_and_places_keep_their_scores() -> None:
    ranked = _candidates(6)
    scores = [0.1, 0.2, 0.9, -math.inf, 0.5, 0.0]
    out = rerank_head(ranked, scores, head=2)
    assert [c["unit_id"] for c in out] == ["u2", "u4", "u0", "u1", "u3", "u5"]
    assert [c["score"] for c in out] == [c["score"] for c in ranked]  # still sorted
    # -inf is never moved, even when the head is larger than what may move
    out = rerank_head(ranked, [-math.inf, 1.0, -math.inf], head=5)
    assert [c["unit_id"] for c in out] == ["u1", "u0", "u2", "u3", "u4", "u5"]


def test_the_lead_keeps_probability_order_and_the_rest_weigh_probability_per_token() -> None:
    # logits of a long likely unit, two short units a little less likely, a long one, an unmoved
    scores = [2.0, 3.0, 1.5, 1.5, 1.0, -math.inf]
    tokens = [80, 200, 10, 12, 300, 5]
    value = budget_scores(scores, tokens, cost=0.5, lead=1)
    order = sorted(range(5), key=lambda i: -value[i])
    assert order == [1, 2, 3, 0, 4]  # the most probable leads, however long; then per token
    assert value[5] == -math.inf
    # no cost: the model's order, whatever the lead
    for lead in (0, 2, 9):
        plain = budget_scores(scores, tokens, cost=0.0, lead=lead)
        assert sorted(range(5), key=lambda i: -plain[i]) == [1, 0, 2, 3, 4]
    assert budget_scores([], [], cost=0.3, lead=5) == []


def test_held_out_orders_the_head_by_probability_per_token_when_asked() -> None:
    rows = _rows(3, np.random.default_rng(3))
    # the gold unit (index 5) is long: at 250 tokens it fits only when ranked before the others
    long_gold = [replace(r, tokens=tuple(240 if i == 5 else 40 for i in range(30))) for r in rows]
    plain = held_out(long_gold, l2=1.0, head=5)["after"]["overall"]
    costly = held_out(long_gold, l2=1.0, head=5, token_cost=8.0, lead=0)["after"]["overall"]
    led = held_out(long_gold, l2=1.0, head=5, token_cost=8.0, lead=1)["after"]["overall"]
    assert plain["recall@250"] == 1.0 and plain["mrr"] > 0.9
    assert costly["mrr"] < plain["mrr"]  # short units overtook the likely long one
    assert led["mrr"] == plain["mrr"]  # unless it leads


def test_units_quoting_many_turns_are_left_in_place() -> None:
    model = LinearReranker(
        mean=np.zeros(len(FEATURES)),
        scale=np.ones(len(FEATURES)),
        weights=np.ones(len(FEATURES)),
        bias=0.0,
    )
    features = np.ones((3, len(FEATURES)))
    scores = head_scores(model, features, [["D1:1"], ["D1:1", "D1:2", "D1:3"], ["D1:4", "D1:5"]])
    assert scores[0] == scores[2] == float(len(FEATURES))
    assert scores[1] == -math.inf


def test_features_describe_each_candidate_the_way_the_names_say(store: MemoryStore) -> None:
    view = view_for(store, NS)
    question = "What is the name of Ana's cat?"
    plan = QueryPlan(question, question, ["Ana"], [], keywords=("name", "cat"))
    recipe = get_recipe("no-rerank")
    lists, route = search_sources(store, NS, view, plan, recipe)
    stages: dict[str, list[Candidate]] = {}
    ranked = rank_candidates(lists, view, plan, route, recipe, stages=stages)
    x = candidate_features(ranked, stages["fused"], lists, view, plan)
    assert x.shape == (len(ranked), len(FEATURES))
    col = {name: i for i, name in enumerate(FEATURES)}
    by_text = {view.units[c["unit_id"]].text: x[i] for i, c in enumerate(ranked)}
    cat = by_text[CHAT[0].text]
    assert cat[col["keyword_hits"]] == 2 and cat[col["keyword_share"]] == 1.0
    assert cat[col["speaker_named"]] == 1.0 and cat[col["granularity:turn"]] == 1.0
    assert by_text[CHAT[1].text][col["speaker_named"]] == 0.0  # Ben said it
    assert by_text[CHAT[1].text][col["asks"]] == 1.0
    assert x[0, col["rank"]] == 0.0 and x[0, col["score"]] == 1.0


def test_rare_question_words_weigh_more_and_session_mates_near_the_top_are_counted(
    store: MemoryStore,
) -> None:
    later = make_unit(
        NS, Granularity.TURN, "Mochi caught a mouse.", provenance=["D2:1"], session_id="S2"
    )
    store.add_units(NS, [later])
    view = view_for(store, NS)
    units = [*CHAT, later]
    ranked = [Candidate(unit_id=u.id, score=1.0 - i / 10, sources=[]) for i, u in enumerate(units)]
    question = "What is Mochi, a cat?"
    plan = QueryPlan(question, question, [], [], keywords=("mochi", "cat"))
    x = candidate_features(ranked, ranked, [], view, plan)
    col = {name: i for i, name in enumerate(FEATURES)}
    # "mochi" is in 3 of the 7 candidates, "cat" in 1: log(8 / 3.5) against log(8 / 1.5)
    mochi, cat = math.log(8 / 3.5), math.log(8 / 1.5)
    assert x[0, col["rare_keyword_share"]] == pytest.approx(1.0)
    assert x[1, col["rare_keyword_share"]] == pytest.approx(mochi / (mochi + cat))
    assert x[1, col["keyword_share"]] == 0.5  # the plain share weighs both words alike
    assert x[2, col["rare_keyword_share"]] == 0.0
    # six units of session S1 among the first SESSION_TOP (10): five others each; S2 has no other
    assert x[0, col["session_company"]] == pytest.approx(math.log1p(5))
    assert x[6, col["session_company"]] == 0.0


def test_full_reranks_the_head_and_current_facts_still_come_after_it(store: MemoryStore) -> None:
    view = view_for(store, NS)
    question = "Which hobby did Ana start?"
    plan = QueryPlan(question, question, ["Ana"], [], keywords=("hobbi", "start"))
    full, off = get_recipe("full"), get_recipe("no-rerank")
    lists, route = search_sources(store, NS, view, plan, full)
    stages: dict[str, list[Candidate]] = {}
    ranked = rank_candidates(lists, view, plan, route, full, stages=stages)
    assert "rerank" in stages
    before = rank_candidates(lists, view, plan, route, off)
    assert sorted(c["unit_id"] for c in ranked) == sorted(c["unit_id"] for c in before)
    assert [c["score"] for c in ranked] == sorted((c["score"] for c in ranked), reverse=True)


def test_the_shipped_model_loads_and_round_trips(tmp_path: Path) -> None:
    model = default_reranker()
    assert json.loads(DEFAULT_MODEL.read_text())["features"] == list(FEATURES)
    model.save(tmp_path / "m.json")
    again = LinearReranker.load(tmp_path / "m.json")
    x = np.random.default_rng(0).standard_normal((5, len(FEATURES)))
    assert np.allclose(model.score(x), again.score(x))


def test_a_file_that_is_not_a_model_for_these_features_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInputError, match=r"bad\.json"):
        LinearReranker.load(bad)
    other = json.loads(DEFAULT_MODEL.read_text())
    other["features"] = other["features"][:-1]
    bad.write_text(json.dumps(other))
    with pytest.raises(InvalidInputError, match="other features"):
        LinearReranker.load(bad)


def _rows(conversations: int, rng: np.random.Generator) -> list[QuestionRows]:
    """Questions whose gold candidate sits at rank 5 and stands out in one feature only."""
    k = FEATURES.index("keyword_share")
    rows = []
    for c in range(conversations):
        for q in range(20):
            x = rng.standard_normal((30, len(FEATURES)))
            x[:, k] = 0.0
            x[5, k] = 1.0
            rows.append(
                QuestionRows(
                    conversation=f"c{c}",
                    category="single-hop",
                    gold=frozenset({f"T{q}:5"}),
                    features=x,
                    provenance=tuple((f"T{q}:{i}",) for i in range(30)),
                    tokens=tuple([40] * 30),
                )
            )
    return rows


def test_training_learns_what_marks_the_gold_unit_on_conversations_it_did_not_see() -> None:
    rows = _rows(3, np.random.default_rng(1))
    model = fit(rows, l2=1.0)
    assert model.weights[FEATURES.index("keyword_share")] > 1.0
    figures = held_out(rows, l2=1.0, head=5)
    assert figures["before"]["overall"]["mrr"] == pytest.approx(1 / 6, abs=1e-4)
    assert figures["after"]["overall"]["mrr"] > 0.9
    assert figures["after"]["overall"]["recall@250"] == 1.0  # 6 × 40 tokens fit before
    assert ranking_metrics(rows[0], list(range(30)))["recall@250"] == 1.0
    assert ranking_metrics(rows[0], list(range(6, 30)))["recall@1000"] == 0.0


def test_held_out_needs_two_conversations_and_fit_needs_questions() -> None:
    with pytest.raises(InvalidInputError, match="two conversations"):
        held_out(_rows(1, np.random.default_rng(2)), l2=1.0, head=5)
    with pytest.raises(InvalidInputError, match="no questions"):
        fit([], l2=1.0)


def test_train_reranker_writes_a_model_and_ends_with_the_held_out_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERMNESIA_EMBEDDER", "fake")
    out = tmp_path / "model.json"
    args = ["train-reranker", "--data", str(DATA), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--work", str(tmp_path / "work")])
    assert result.exit_code == 0, result.output
    summary = json.loads([ln for ln in result.stdout.splitlines() if ln.startswith("{")][-1])
    assert summary["questions"] > 0
    for side in ("before", "after"):
        assert set(summary["held_out"][side]["overall"]) == {"mrr", "recall@250", "recall@1000"}
    assert LinearReranker.load(out).trained_on.startswith("locomo_small.json")


@pytest.mark.parametrize(
    "prefix", ["", "a", "ap", "apple", "apples", "b", "ban", "bananas", "c", "zz", "0", "9"]
)
def test_prefix_search_matches_a_plain_scan(prefix: str) -> None:
    words = tuple(sorted({"apple", "applet", "apt", "banana", "band", "cab", "9lives"}))
    assert _has_prefix(words, prefix) == any(w.startswith(prefix) for w in words)
    assert _has_prefix((), prefix) is False
