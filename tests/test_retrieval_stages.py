"""Each stage of the read path on small hand-built namespaces whose right answer is known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from agents.constructor import build_segments
from agents.recipes import get_recipe
from agents.retrieval import (
    Hit,
    SourceHits,
    build_view,
    merge_passes,
    pack,
    plan_query,
    present,
    rank_candidates,
    search_sources,
)
from agents.retrieval.fuse import (
    answers_before_questions,
    boost_in_range,
    favour_speakers,
    favour_time_words,
    fuse,
    spread_to_neighbours,
)
from agents.retrieval.pack import PACKED_IN_PART
from agents.retrieval.route import route_weights
from agents.retrieval.sources import day_range, graph_hits
from agents.retrieval.types import QueryPlan
from agents.retrieval.view import NamespaceView, update_view, view_for
from agents.state import Candidate
from memory.fake_llm import ScriptedLLM
from memory.model import Granularity, MemoryUnit, Namespace, Turn, make_unit
from memory.store import MemoryStore
from memory.tokens import count_tokens
from prompts.retriever import QueryAnalysis

NS = Namespace(user_id="sam")
MAY_8 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
MAY_7 = datetime(2023, 5, 7, tzinfo=UTC)


def _turn(n: int, speaker: str, text: str, when: datetime = MAY_8) -> tuple[Turn, MemoryUnit]:
    turn = Turn(id=f"D1:{n}", session_id="S1", speaker=speaker, text=text, session_time=when)
    unit = make_unit(
        NS,
        Granularity.TURN,
        text,
        provenance=[turn.id],
        session_id=turn.session_id,
        speaker=speaker,
        event_time=when,
        entities=(speaker,),
    )
    return turn, unit


def _fact(text: str, turn_id: str, speaker: str = "Sam", when: datetime = MAY_8) -> MemoryUnit:
    return make_unit(
        NS,
        Granularity.FACT,
        text,
        provenance=[turn_id],
        speaker=speaker,
        event_time=when,
        entities=(speaker,),
    )


def _sample() -> list[tuple[Turn, MemoryUnit]]:
    return [
        _turn(1, "Sam", "I adopted a beagle named Biscuit."),
        _turn(2, "Maya", "What a lovely dog! Where did you find him?"),
        _turn(3, "Sam", "At the shelter on Elm Street."),
        _turn(4, "Maya", "I went hiking in the Rockies last weekend."),
    ]


def _sample_turns() -> list[Turn]:
    return [t for t, _ in _sample()]


@pytest.fixture
def view() -> NamespaceView:
    """Four turns of one session (two speakers) and a fact of the first turn."""
    pairs = _sample()
    units = {u.id: u for _, u in pairs}
    fact = _fact("Sam adopted a beagle named Biscuit.", "D1:1")
    units[fact.id] = fact
    return build_view(units, [t for t, _ in pairs])


def _ids(view: NamespaceView, *texts: str) -> list[str]:
    by_text = {u.text: uid for uid, u in view.units.items()}
    return [by_text[t] for t in texts]


def _c(uid: str, score: float, *sources: str) -> Candidate:
    return Candidate(unit_id=uid, score=score, sources=list(sources or ("dense",)))


# -- view -------------------------------------------------------------------------------------


def test_view_knows_neighbours_names_and_turn_units(view: NamespaceView) -> None:
    first, second, third, _ = _ids(
        view,
        "I adopted a beagle named Biscuit.",
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
        "I went hiking in the Rockies last weekend.",
    )
    assert view.neighbours(first) == (second,)
    assert view.neighbours(second) == (first, third)
    assert {"Sam", "Maya"} <= set(view.names)
    assert view.turn_units["D1:1"] == first


def test_a_view_brought_forward_equals_one_built_anew(view: NamespaceView) -> None:
    first, second = _ids(
        view, "I adopted a beagle named Biscuit.", "What a lovely dog! Where did you find him?"
    )
    extra_turn, extra = _turn(5, "Zoe", "Zoe here, I just joined.")
    closed = view.units[second].closed(MAY_8, None)
    now = {**view.units, extra.id: extra, second: closed}
    del now[first]
    updated = update_view(view, [first, second, extra.id], now)
    rebuilt = build_view(
        {uid: u for uid, u in now.items() if u.is_current},
        [t for t in _sample_turns() if t.id not in ("D1:1", "D1:2")] + [extra_turn],
    )
    assert dict(updated.units) == dict(rebuilt.units)
    assert updated.names == rebuilt.names and "Zoe" in updated.names
    assert dict(updated.sessions) == dict(rebuilt.sessions)
    assert dict(updated.turn_units) == dict(rebuilt.turn_units)
    assert update_view(updated, [extra.id], now).units == updated.units  # idempotent


def test_a_unit_is_measured_when_it_enters_the_view_not_when_first_ranked(
    view: NamespaceView,
) -> None:
    def measured(v: NamespaceView) -> set[str]:
        return {
            uid
            for uid, memo in v.memos.items()
            if memo.unit is v.units.get(uid) and memo.tokens is not None and memo.words
        }

    assert measured(view) == set(view.units)  # built: every unit, before any read
    _, extra = _turn(5, "Zoe", "Zoe here, I just joined the pottery class.")
    updated = update_view(view, [extra.id], {**view.units, extra.id: extra})
    assert measured(updated) == set(updated.units)  # brought forward: the new unit too
    memo = updated.memos[extra.id]
    assert memo.tokens == count_tokens(updated.presented(extra)) > 0
    assert "pottery" in (memo.words or ())


# -- analyse ----------------------------------------------------------------------------------


def test_plan_names_entities_and_days_only_when_temporal() -> None:
    plan = plan_query("What did Sam do on 7 May 2023?", ["Sam"], temporal=True)
    assert plan.entities[0] == "Sam"
    assert plan.spans == [(date(2023, 5, 7), date(2023, 5, 7))]
    assert plan.search_text == plan.query
    assert plan_query("What did Sam do on 7 May 2023?", ["Sam"], temporal=False).spans == []


def test_plan_adds_the_llm_rewrite_and_falls_back_loudly() -> None:
    llm = ScriptedLLM([QueryAnalysis(rewritten_query="dog adoption", entities=["Biscuit"])])
    plan = plan_query("What pet did Sam get?", ["Sam"], temporal=True, llm=llm)
    assert plan.search_text == "What pet did Sam get? dog adoption"
    assert "Biscuit" in plan.entities and plan.fallback is None and len(plan.calls) == 1
    broken = ScriptedLLM(["not json"] * 6)
    fallen = plan_query("What pet did Sam get?", ["Sam"], temporal=True, llm=broken)
    assert fallen.search_text == "What pet did Sam get?"
    assert fallen.fallback is not None and fallen.calls and not fallen.calls[0].ok


# -- route ------------------------------------------------------------------------------------


def test_route_trusts_the_granularity_whose_best_score_stands_out(view: NamespaceView) -> None:
    t1, t2, t3, t4, fact = _ids(
        view,
        "I adopted a beagle named Biscuit.",
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
        "I went hiking in the Rockies last weekend.",
        "Sam adopted a beagle named Biscuit.",
    )
    flat = [Hit(t1, 0.50), Hit(t2, 0.50), Hit(t3, 0.49), Hit(t4, 0.49), Hit(fact, 0.7)]
    weights = route_weights(view.units, flat)
    assert weights["fact"] > weights["turn"]  # one fact hit: weight 1 before rescaling
    assert sum(weights.values()) / len(weights) == pytest.approx(1.0)
    peaked = [Hit(t1, 0.9), Hit(t2, 0.3), Hit(t3, 0.3), Hit(t4, 0.3), Hit(fact, 0.7)]
    assert route_weights(view.units, peaked)["turn"] > weights["turn"]
    assert route_weights(view.units, []) == {}


# -- fuse and adjust ----------------------------------------------------------------------------


def test_fuse_sums_weighted_reciprocal_ranks(view: NamespaceView) -> None:
    a, b, c = _ids(
        view,
        "I adopted a beagle named Biscuit.",
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
    )
    lists = [
        SourceHits("dense", 1.0, [Hit(a, 0.9), Hit(b, 0.8)]),
        SourceHits("lexical", 0.5, [Hit(b, 3.0), Hit(c, 2.0), Hit("gone", 1.0)]),
    ]
    fused = fuse(lists, view.units, rrf_k=60, route={})
    by_id = {x["unit_id"]: x for x in fused}
    assert "gone" not in by_id  # not a current unit of the view
    assert by_id[b]["score"] == pytest.approx(1 / 62 + 0.5 / 61)
    assert by_id[b]["sources"] == ["dense", "lexical"]
    assert [x["unit_id"] for x in fused] == [b, a, c]
    routed = fuse(lists, view.units, rrf_k=60, route={"turn": 0.5})
    assert routed[0]["score"] == pytest.approx(by_id[b]["score"] * 0.5)


def test_score_fusion_keeps_how_far_ahead_a_clear_best_match_is(view: NamespaceView) -> None:
    a, b, c = _ids(
        view,
        "I adopted a beagle named Biscuit.",
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
    )
    # dense: a far ahead of b and c, which score alike; lexical: c then b, not a
    lists = [
        SourceHits("dense", 1.0, [Hit(a, 0.90), Hit(b, 0.41), Hit(c, 0.40)]),
        SourceHits("lexical", 1.0, [Hit(c, 2.0), Hit(b, 1.0)]),
    ]
    by_rank = fuse(lists, view.units, rrf_k=60, route={})
    assert [x["unit_id"] for x in by_rank] == [c, b, a]  # found twice beats a clear first place
    blended = fuse(lists, view.units, rrf_k=60, route={}, score_share=0.7)
    assert [x["unit_id"] for x in blended] == [c, a, b]
    by_id = {x["unit_id"]: x["score"] for x in blended}
    assert by_id[a] == pytest.approx(0.3 / 61 + 0.7 / 61)  # first in dense, normalised 1
    assert by_id[c] == pytest.approx(0.3 / 63 + 1 / 61)  # last in dense (0), first in lexical
    equal = fuse(
        [SourceHits("dense", 1.0, [Hit(a, 0.5), Hit(b, 0.5)])],
        view.units,
        rrf_k=60,
        route={},
        score_share=1.0,
    )
    assert [x["score"] for x in equal] == pytest.approx([1 / 61, 1 / 61])  # no spread: all top


def test_boost_in_range_lifts_units_dated_inside_the_span(view: NamespaceView) -> None:
    late = _fact("Sam walked Biscuit.", "D1:9", when=datetime(2023, 6, 1, tzinfo=UTC))
    units = {**view.units, late.id: late}
    (early,) = _ids(view, "I adopted a beagle named Biscuit.")
    ranked = [_c(early, 1.0), _c(late.id, 0.9)]
    june = [(date(2023, 6, 1), date(2023, 6, 30))]
    boosted = boost_in_range(ranked, units, june)
    assert [x["unit_id"] for x in boosted] == [late.id, early]
    assert boosted[0]["score"] == pytest.approx(0.9 * 1.3)
    assert boost_in_range(ranked, units, []) == ranked


def test_spread_passes_a_share_to_neighbouring_turns(view: NamespaceView) -> None:
    first, second = _ids(
        view, "I adopted a beagle named Biscuit.", "What a lovely dog! Where did you find him?"
    )
    spread = spread_to_neighbours([_c(first, 1.0)], view, 0.3)
    assert [(x["unit_id"], x["score"]) for x in spread] == [(first, 1.0), (second, 0.3)]
    assert spread[1]["sources"] == ["context"]


def test_only_the_strongest_neighbour_counts(view: NamespaceView) -> None:
    """A turn between two middling matches does not outrank a turn beside the strong one."""
    first, second, third, fourth = _ids(
        view,
        "I adopted a beagle named Biscuit.",
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
        "I went hiking in the Rockies last weekend.",
    )
    ranked = [_c(first, 0.5), _c(second, 0.4), _c(third, 0.5), _c(fourth, 0.4)]
    spread = {x["unit_id"]: x["score"] for x in spread_to_neighbours(ranked, view, 0.3)}
    assert spread[second] == pytest.approx(0.4 + 0.15)  # not 0.4 + 0.15 + 0.15
    assert spread[fourth] == pytest.approx(0.4 + 0.15)
    assert spread[first] == pytest.approx(0.5 + 0.12)


def test_a_question_knows_its_reply_and_a_statement_has_none(view: NamespaceView) -> None:
    first, second, third, fourth = _ids(
        view,
        "I adopted a beagle named Biscuit.",
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
        "I went hiking in the Rockies last weekend.",
    )
    assert view.reply_to(second) == third
    assert [view.reply_to(u) for u in (first, third, fourth)] == [None, None, None]


def test_what_a_view_memoises_follows_a_changed_unit(view: NamespaceView) -> None:
    second, third = _ids(
        view, "What a lovely dog! Where did you find him?", "At the shelter on Elm Street."
    )
    assert view.reply_to(second) == third and "Where did" in view.presented(view.units[second])
    now = {**view.units, second: view.units[second].model_copy(update={"text": "Lovely dog."})}
    updated = update_view(view, [second], now)
    assert updated.reply_to(second) is None  # the memo of "ends asking" was dropped with the text
    assert updated.presented(updated.units[second]).endswith("Lovely dog.")
    assert view.memos is updated.memos  # shared by the views of one namespace
    assert view.presented(view.units[second]).endswith("Where did you find him?")  # its own unit
    assert updated.presented(updated.units[second]).endswith("Lovely dog.")


def test_a_reply_is_the_next_turn_by_someone_else() -> None:
    pairs = [
        _turn(1, "Sam", "Guess where I went? [shares a photo of a beach]"),
        _turn(2, "Maya", "The coast! Are you going again?"),
        _turn(3, "Maya", "I would come along."),
        _turn(4, "Sam", "Where was it?"),
    ]
    view = build_view({u.id: u for _, u in pairs}, [t for t, _ in pairs])
    photo, guess, more, last = (u.id for _, u in pairs)
    assert view.reply_to(photo) == guess  # a trailing photo note does not hide the question
    assert view.reply_to(guess) is None  # the same speaker goes on
    assert view.reply_to(more) is None  # not a question
    assert view.reply_to(last) is None  # nobody answered yet


def test_the_answer_ranks_before_the_question_it_answers(view: NamespaceView) -> None:
    second, third, fourth = _ids(
        view,
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
        "I went hiking in the Rockies last weekend.",
    )
    ranked = [_c(second, 1.0), _c(fourth, 0.7), _c(third, 0.2)]
    out = answers_before_questions(ranked, view, 1.0, 0.85)
    assert [(x["unit_id"], x["score"]) for x in out] == [
        (third, 1.0),
        (second, 0.85),
        (fourth, 0.7),
    ]
    assert out[0]["sources"] == ["dense", "reply"]


def test_a_reply_gains_a_floor_not_a_bonus(view: NamespaceView) -> None:
    """A reply already above its question keeps its score; statements are untouched."""
    second, third, fourth = _ids(
        view,
        "What a lovely dog! Where did you find him?",
        "At the shelter on Elm Street.",
        "I went hiking in the Rockies last weekend.",
    )
    ranked = [_c(third, 0.9), _c(second, 0.5), _c(fourth, 0.4)]
    out = {x["unit_id"]: x for x in answers_before_questions(ranked, view, 1.0, 0.85)}
    assert out[third]["score"] == 0.9 and out[third]["sources"] == ["dense"]
    assert out[second]["score"] == pytest.approx(0.425)
    assert out[fourth]["score"] == 0.4


def test_a_when_question_favours_units_that_say_when(view: NamespaceView) -> None:
    hiking, beagle = _ids(
        view, "I went hiking in the Rockies last weekend.", "I adopted a beagle named Biscuit."
    )
    ranked = [_c(beagle, 1.0), _c(hiking, 0.9)]
    out = favour_time_words(ranked, view, 1.3)
    assert [(x["unit_id"], x["score"]) for x in out] == [
        (hiking, pytest.approx(1.17)),
        (beagle, 1.0),
    ]
    assert plan_query("When did Sam go hiking?", ["Sam"], temporal=True).asks_when
    assert not plan_query("Where did Sam go hiking?", ["Sam"], temporal=True).asks_when


def test_named_speakers_are_favoured(view: NamespaceView) -> None:
    sam, maya = _ids(
        view, "I adopted a beagle named Biscuit.", "What a lovely dog! Where did you find him?"
    )
    ranked = favour_speakers([_c(sam, 1.0), _c(maya, 0.9)], view, {"maya"}, 1.25)
    assert [x["unit_id"] for x in ranked] == [maya, sam]


# -- merge passes -------------------------------------------------------------------------------


def test_one_pass_stands_as_it_is() -> None:
    ranking = [_c("a", 0.5), _c("b", 0.1)]
    assert merge_passes([ranking], 0.95) == ranking


def test_decay_decides_where_a_refinement_lands() -> None:
    first = [_c("a", 1), _c("b", 1), _c("c", 1)]
    second = [_c("x", 1, "graph"), _c("y", 1, "graph")]
    interleaved = [c["unit_id"] for c in merge_passes([first, second], 0.95)]
    assert interleaved == ["a", "x", "b", "y", "c"]
    appended = [c["unit_id"] for c in merge_passes([first, second], 0.01)]
    assert appended == ["a", "b", "c", "x", "y"]


def test_a_unit_found_by_both_passes_keeps_its_best_place_and_both_sources() -> None:
    first = [_c("a", 1), _c("b", 1, "dense"), _c("c", 1)]
    merged = merge_passes([first, [_c("c", 1, "graph"), _c("x", 1, "graph")]], 0.95)
    assert [c["unit_id"] for c in merged] == ["a", "c", "b", "x"]  # c: the head of pass two
    assert merged[1]["sources"] == ["dense", "graph"]


# -- pack ---------------------------------------------------------------------------------------


def test_pack_skips_what_does_not_fit_without_cutting(view: NamespaceView) -> None:
    ids = list(view.units)
    ranked = [_c(uid, 1.0 / (n + 1)) for n, uid in enumerate(ids)]
    budget = view.token_count(view.units[ids[0]]) + 3
    packed = pack(ranked, view, budget, dedupe_provenance=False)
    assert sum(p.tokens for p in packed) <= budget
    assert packed[0].unit.id == ids[0]
    assert all(p.tokens == view.token_count(p.unit) for p in packed)


def test_pack_represents_each_turn_once_and_upgrades_a_fact(view: NamespaceView) -> None:
    turn, fact = _ids(
        view, "I adopted a beagle named Biscuit.", "Sam adopted a beagle named Biscuit."
    )
    packed = pack([_c(fact, 1.0), _c(turn, 0.9)], view, 500, dedupe_provenance=True)
    assert [p.unit.id for p in packed] == [fact]  # the turn says nothing the fact does not
    second = _fact("Biscuit is a beagle.", "D1:1")
    units = {**view.units, second.id: second}
    wider = build_view(units, [])
    upgraded = pack([_c(fact, 1.0), _c(second.id, 0.9)], wider, 500, dedupe_provenance=True)
    assert [p.unit.id for p in upgraded] == [turn]  # two facts of one turn: the whole turn
    kept = pack([_c(fact, 1.0), _c(turn, 0.9)], view, 500, dedupe_provenance=False)
    assert [p.unit.id for p in kept] == [fact, turn]


def _with_segment(view: NamespaceView, turns: list[Turn]) -> tuple[NamespaceView, MemoryUnit]:
    (segment,) = build_segments(NS, turns)
    return build_view({**view.units, segment.id: segment}, _sample_turns()), segment


def test_a_segment_is_packed_without_the_lines_of_turns_quoted_before_it(
    view: NamespaceView,
) -> None:
    wider, segment = _with_segment(view, _sample_turns()[:3])
    first, third = _ids(view, "I adopted a beagle named Biscuit.", "At the shelter on Elm Street.")
    ranked = [_c(first, 1.0), _c(third, 0.9), _c(segment.id, 0.8)]
    outcomes: dict[str, str] = {}
    packed = pack(ranked, wider, 500, dedupe_provenance=True, outcomes=outcomes)
    assert [p.unit.id for p in packed] == [first, third, segment.id]
    assert outcomes[segment.id] == PACKED_IN_PART  # the trace says so
    part = packed[2]
    assert part.provenance == ("D1:2",)  # only the line no turn quoted before
    assert part.text == "8 May 2023 Maya: What a lovely dog! Where did you find him?"
    assert part.tokens < wider.token_count(segment)
    whole = pack(ranked, wider, 500, dedupe_provenance=False)[2]
    assert (whole.provenance, whole.text) == (segment.provenance, wider.presented(segment))


def test_a_turn_told_only_by_a_fact_keeps_its_line_in_a_segment(view: NamespaceView) -> None:
    wider, segment = _with_segment(view, _sample_turns()[:3])
    (fact,) = _ids(view, "Sam adopted a beagle named Biscuit.")
    packed = pack([_c(fact, 1.0), _c(segment.id, 0.9)], wider, 500, dedupe_provenance=True)
    assert packed[1].provenance == segment.provenance  # a fact may keep one clause of a turn
    assert packed[1].text == wider.presented(segment)


def test_a_segment_whose_lines_are_not_one_per_turn_is_packed_whole() -> None:
    pairs = [_turn(1, "Sam", "Two lines:\nfirst, then second."), _turn(2, "Maya", "Both noted.")]
    units = {u.id: u for _, u in pairs}
    turns = [t for t, _ in pairs]
    (segment,) = build_segments(NS, turns)
    view = build_view({**units, segment.id: segment}, turns)
    ranked = [_c(pairs[0][1].id, 1.0), _c(segment.id, 0.9)]
    packed = pack(ranked, view, 500, dedupe_provenance=True)
    assert packed[1].provenance == ("D1:1", "D1:2")
    assert packed[1].text == view.presented(segment)


def test_present_quotes_turns_with_speaker_and_resolved_dates() -> None:
    _, unit = _turn(1, "Sam", "Yesterday I adopted a beagle.")
    assert present(unit) == "8 May 2023 Sam: Yesterday (7 May 2023) I adopted a beagle."


def test_a_fact_that_states_its_resolved_date_goes_without_a_day_in_front() -> None:
    last_year = _fact("Sam painted a sunrise last year (2022).", "D1:1", when=datetime(2022, 1, 1))
    assert present(last_year) == "Sam painted a sunrise last year (2022)."  # not "1 January"
    yesterday = _fact("Sam adopted a beagle yesterday (7 May 2023).", "D1:1", when=MAY_7)
    assert present(yesterday) == "Sam adopted a beagle yesterday (7 May 2023)."
    film = _fact("Sam loved the film Barbie (2023).", "D1:1")  # a year, not the fact's day
    assert present(film) == "8 May 2023 Sam loved the film Barbie (2023)."
    plain = _fact("Sam adopted a beagle.", "D1:1")
    assert present(plain) == "8 May 2023 Sam adopted a beagle."


def test_a_day_in_front_of_a_number_is_followed_by_a_colon() -> None:
    """Without the colon, "8 May 2023 3 friends…" would read as one number."""
    counted = _fact("3 friends came to Sam's party.", "D1:1")
    assert present(counted) == "8 May 2023: 3 friends came to Sam's party."


# -- sources and the whole pass over a real store ----------------------------------------------


def test_day_range_lists_days_of_short_spans_only() -> None:
    week = (date(2023, 5, 1), date(2023, 5, 3))
    year = (date(2023, 1, 1), date(2023, 12, 31))
    assert day_range([week, year]) == [date(2023, 5, 1), date(2023, 5, 2), date(2023, 5, 3)]


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    store = open_store(backend="memory")
    maya = make_unit(
        NS, Granularity.FACT, "Maya works at Flour Bakery.", provenance=["D2:1"],
        entities=("Maya", "Flour Bakery"), speaker="Maya",
    )  # fmt: skip
    sam = make_unit(
        NS, Granularity.FACT, "Sam's sister Maya helped pick Biscuit.", provenance=["D2:2"],
        entities=("Sam", "Maya", "Biscuit"), speaker="Sam",
    )  # fmt: skip
    turn = make_unit(NS, Granularity.TURN, "Lovely day.", provenance=["D2:3"], speaker="Sam")
    store.add_units(NS, [maya, sam, turn])
    return store


def test_graph_hits_walk_from_named_entities(store: MemoryStore) -> None:
    view = view_for(store, NS)
    hits = graph_hits(
        store, NS, view, entities=["Biscuit"], spans=[], seeds=[], recipe=get_recipe("full")
    )
    texts = [view.units[h.unit_id].text for h in hits]
    assert texts[0] == "Sam's sister Maya helped pick Biscuit."
    assert "Maya works at Flour Bakery." in texts  # one hop further, through Maya
    turns_only = get_recipe("turns-only")
    only = graph_hits(store, NS, view, entities=["Biscuit"], spans=[], seeds=[], recipe=turns_only)
    assert [view.units[h.unit_id].text for h in only] == ["Lovely day."]  # via Sam, a turn
    nowhere = graph_hits(
        store, NS, view, entities=["Nobody"], spans=[], seeds=[], recipe=get_recipe("full")
    )
    assert nowhere == []


def test_a_limited_walk_is_the_head_of_the_full_ranking_ties_included(
    store: MemoryStore,
) -> None:
    twins = [
        make_unit(
            NS, Granularity.FACT, f"Maya note {i}.", provenance=[f"D3:{i}"], entities=("Maya",)
        )
        for i in range(5)
    ]  # equal scores from a walk that starts at Maya
    store.add_units(NS, twins)
    full = store.related(NS, entities=["Maya"])
    assert len({score for _, score in full}) < len(full)  # ties exist
    for limit in range(1, len(full) + 2):
        assert store.related(NS, entities=["Maya"], limit=limit) == full[:limit]


def test_a_pass_uses_exactly_the_sources_the_recipe_enables(store: MemoryStore) -> None:
    view = view_for(store, NS)
    plan = QueryPlan("Where does Maya work?", "Where does Maya work?", ["Maya"], [])
    lists, route = search_sources(store, NS, view, plan, get_recipe("full"))
    assert [s.name for s in lists] == ["dense", "topic", "lexical", "graph"] and route
    lists, route = search_sources(store, NS, view, plan, get_recipe("no-graph"))
    assert [s.name for s in lists] == ["dense", "topic", "lexical"]
    lists, route = search_sources(store, NS, view, plan, get_recipe("no-topic"))
    assert [s.name for s in lists] == ["dense", "lexical", "graph"]
    lists, route = search_sources(store, NS, view, plan, get_recipe("no-router"))
    assert route == {}
    ranked = rank_candidates(lists, view, plan, route, get_recipe("full"))
    assert view.units[ranked[0]["unit_id"]].text == "Maya works at Flour Bakery."


def test_the_view_is_rebuilt_only_after_the_namespace_changes(store: MemoryStore) -> None:
    first = view_for(store, NS)
    assert view_for(store, NS) is first
    store.add_units(NS, [make_unit(NS, Granularity.FACT, "Sam likes tea.", provenance=["D3:1"])])
    second = view_for(store, NS)
    assert second is not first and len(second.units) == len(first.units) + 1


def test_relative_dates_in_a_question_resolve_against_when_it_is_asked() -> None:
    asked = datetime(2023, 5, 8, 20, 0, tzinfo=UTC)
    plan = plan_query("What did Sam do yesterday?", ["Sam"], temporal=True, reference=asked)
    assert plan.spans == [(date(2023, 5, 7), date(2023, 5, 7))]
    undated = plan_query("What did Sam do yesterday?", ["Sam"], temporal=True)
    assert undated.spans == []  # no reference: only absolute dates are found
