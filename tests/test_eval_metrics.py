"""Metric functions on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from evals.metrics import (
    adversarial_score,
    bleu1,
    covered_turns,
    evidence_recall,
    hit,
    mean_by_category,
    mrr,
    ndcg_at_k,
    normalize_answer,
    pack,
    percentile,
    ranked_turns,
    token_f1,
)
from evals.systems import RetrievedItem
from memory.errors import InvalidInputError


def item(turns: tuple[str, ...], tokens: int) -> RetrievedItem:
    return RetrievedItem(text="t", source_turn_ids=turns, tokens=tokens, score=0.0)


def test_pack_skips_an_item_that_overflows_and_keeps_smaller_later_ones() -> None:
    items = [item(("a",), 60), item(("b",), 50), item(("c",), 30), item(("d",), 10)]
    assert [i.source_turn_ids for i in pack(items, 100)] == [("a",), ("c",), ("d",)]
    assert [i.source_turn_ids for i in pack(items, 59)] == [("b",)]
    assert pack(items, 9) == []
    assert [i.source_turn_ids for i in pack(items, 150)] == [("a",), ("b",), ("c",), ("d",)]


def test_pack_rejects_a_negative_budget() -> None:
    with pytest.raises(InvalidInputError, match="budget"):
        pack([], -1)


def test_recall_and_hit_count_gold_turns_covered_through_provenance() -> None:
    packed = [item(("D1:1", "D1:2"), 5), item(("D3:4",), 5)]
    covered = covered_turns(packed)
    assert covered == {"D1:1", "D1:2", "D3:4"}
    assert evidence_recall(["D1:2", "D2:1"], covered) == 0.5
    assert evidence_recall(["D1:2", "D2:1", "D3:4", "D9:9"], covered) == 0.5
    assert evidence_recall(["D1:1", "D1:1"], covered) == 1.0  # duplicates count once
    assert hit(["D2:1", "D3:4"], covered) == 1.0
    assert hit(["D2:1"], covered) == 0.0


def test_a_question_without_gold_cannot_be_scored() -> None:
    for metric in (evidence_recall, hit):
        with pytest.raises(InvalidInputError, match="gold"):
            metric([], ["D1:1"])
    with pytest.raises(InvalidInputError, match="gold"):
        mrr(["D1:1"], [])


def test_ranked_turns_keep_the_first_occurrence() -> None:
    items = [item(("b", "a"), 1), item(("a", "c"), 1), item(("b",), 1), item(("d",), 1)]
    assert ranked_turns(items) == ["b", "a", "c", "d"]


def test_ndcg_hand_computed() -> None:
    ranked = ["x", "g1", "y", "g2"]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(ranked, ["g1", "g2"], k=10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(ranked, ["g1", "g2"], k=2) == pytest.approx((1 / math.log2(3)) / ideal)
    assert ndcg_at_k(["g1", "g2"], ["g2", "g1"]) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], ["g1"]) == 0.0
    # More gold than k: the ideal ranking is cut at k too.
    assert ndcg_at_k(["g1"], ["g1", "g2", "g3"], k=1) == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="k must"):
        ndcg_at_k(ranked, ["g1"], k=0)


def test_mrr_hand_computed() -> None:
    assert mrr(["x", "y", "g"], ["g", "h"]) == pytest.approx(1 / 3)
    assert mrr(["h", "g"], ["g", "h"]) == 1.0
    assert mrr(["x"], ["g"]) == 0.0


def test_percentile_interpolates_linearly() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile([], 50) is None
    with pytest.raises(InvalidInputError):
        percentile(values, 101)


def test_overall_is_a_mean_over_questions_of_the_overall_categories() -> None:
    values = [("a", 1.0), ("a", 0.0), ("b", 1.0), ("adv", 0.0)]
    result = mean_by_category(values, ["a", "b", "adv", "empty"], ["a", "b"])
    assert result == {
        "overall": pytest.approx(2 / 3),
        "a": 0.5,
        "b": 1.0,
        "adv": 0.0,
        "empty": None,
    }


def test_normalize_answer_drops_case_punctuation_and_articles() -> None:
    assert normalize_answer("The  Grey, tabby cat!") == "grey tabby cat"
    assert normalize_answer("Bread and butter") == "bread butter"


def test_token_f1_hand_computed() -> None:
    # "grey cat on sofa" vs "grey tabby cat": 2 common, P 2/4, R 2/3, F1 = 2PR/(P+R) = 4/7.
    assert token_f1("a grey cat on sofa", "The grey tabby cat") == pytest.approx(4 / 7)
    assert token_f1("grey cat sofa", "grey tabby cat") == pytest.approx(2 / 3)
    assert token_f1("Lisbon", "lisbon.") == 1.0
    assert token_f1("Porto", "Lisbon") == 0.0
    assert token_f1("", "") == 1.0
    assert token_f1("", "x") == 0.0


def test_bleu1_hand_computed() -> None:
    # Longer prediction: no brevity penalty; precision 2/4.
    assert bleu1("grey cat big sofa", "grey tabby cat") == pytest.approx(0.5)
    # Shorter prediction: precision 1, brevity penalty exp(1 - 3/2).
    assert bleu1("grey cat", "grey tabby cat") == pytest.approx(math.exp(1 - 3 / 2))
    # Clipping: a repeated word counts as often as in the reference.
    assert bleu1("cat cat cat", "cat sat mat") == pytest.approx(1 / 3)


def test_adversarial_questions_are_scored_as_not_mentioned() -> None:
    assert adversarial_score("That is not mentioned in the conversation.") == 1.0
    assert adversarial_score("No information available.") == 1.0
    assert adversarial_score("It is a poodle.") == 0.0


def test_answer_words_are_found_in_the_packed_text_not_credited_by_provenance() -> None:
    from evals.metrics import answer_words_found

    turn = RetrievedItem(
        "Caroline: I went to the LGBTQ support group yesterday.", ("D1:3",), 12, 1.0
    )
    fact = RetrievedItem("Caroline went to a group.", ("D1:3",), 6, 0.9)
    assert answer_words_found("LGBTQ support group", [turn]) == 1.0
    assert answer_words_found("LGBTQ support group", [fact]) == 1 / 3  # same turn, fewer words
    assert answer_words_found("7 May 2023", [RetrievedItem("7 May 2023 Sam: hi", (), 5, 1)]) == 1
    assert answer_words_found("the", [turn]) is None  # no content word to look for
    assert answer_words_found(None, [turn]) is None
    assert (
        answer_words_found("adopted beagles", [RetrievedItem("Sam adopts a beagle", (), 4, 1)]) == 1
    )
