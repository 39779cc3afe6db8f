"""The LoCoMo and LongMemEval loaders on small synthetic files, and on malformed ones."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evals.loaders import load_dataset, load_locomo, load_longmemeval, normalize_evidence
from evals.loaders._common import EvidenceRepairs
from memory.errors import InvalidInputError

DATA = Path(__file__).parent / "data"
LOCOMO = DATA / "locomo_small.json"
LONGMEMEVAL = DATA / "longmemeval_small.json"


def test_locomo_turns_speakers_dates_and_captions() -> None:
    ds = load_locomo(LOCOMO)
    assert [c.id for c in ds.conversations] == ["conv-t1", "conv-t2"]
    conv = ds.conversations[0]
    assert conv.speakers == ["Ann", "Ben"]
    # session_4 has a date and no turns, session_5 an empty list: neither yields turns.
    assert [t.id for t in conv.turns] == [
        "D1:1", "D1:2", "D1:3", "D1:4", "D2:1", "D2:2", "D2:3", "D3:1", "D3:2", "D3:3",
    ]  # fmt: skip
    photo = conv.turns[2]
    assert photo.image_caption == "a photo of a grey cat on a sofa"
    assert photo.session_id == "session_1" and photo.index == 2
    assert photo.session_time == datetime(2023, 3, 3, 13, 0, tzinfo=UTC)
    assert conv.turns[4].session_time == datetime(2023, 4, 12, 10, 30, tzinfo=UTC)
    assert conv.turns[0].image_caption is None


def test_locomo_categories_and_evidence_normalisation() -> None:
    ds = load_locomo(LOCOMO)
    by_text = {q.text: q for q in ds.questions}
    assert by_text["What is the name of Ann's cat?"].category == "single-hop"
    assert by_text["What is the name of Ann's cat?"].answer == "Pixel"
    assert by_text["What is the name of Ann's cat?"].id == "conv-t1:q0"
    moved = by_text["Where did Ben move and what does he work as?"]
    assert moved.category == "multi-hop" and moved.evidence == ("D2:1", "D2:3")
    marathon = by_text["When did Ann run a marathon?"]
    assert marathon.category == "temporal" and marathon.evidence == ("D3:1",)
    assert by_text["What colour is Ann's cat?"].evidence == ("D1:3",)
    violin = by_text["What instrument is Ben learning?"]
    assert violin.category == "open-domain" and violin.evidence == ("D1:4",)
    adversarial = by_text["What did Ben say about his dog?"]
    assert adversarial.category == "adversarial" and adversarial.answer is None
    assert by_text["How long did Ann's marathon take?"].evidence == ("D3:3",)
    assert by_text["How long did Ann's marathon take?"].answer == "4"
    assert ds.evidence_repairs == {
        "duplicate ids dropped": 1,
        "entries holding several ids, split": 1,
        "ids normalised": 2,
        "ids of turns that do not exist dropped": 1,
        "malformed ids dropped": 1,
    }
    assert ds.overall_categories == {"multi-hop", "temporal", "open-domain", "single-hop"}


def test_locomo_questions_without_valid_evidence_are_skipped_with_reasons() -> None:
    ds = load_locomo(LOCOMO)
    assert len(ds.questions) == 9 and len(ds.skipped) == 2
    reasons = {s.question.text: s.reason for s in ds.skipped}
    assert reasons == {
        "How long was the race in Porto?": "no valid evidence: 'D3:9' names no turn of the "
        "conversation",
        "Would Ann enjoy a pet shop?": "no evidence in the file",
    }


@pytest.mark.parametrize(
    ("raw", "expected", "dropped"),
    [
        (["D8:6; D9:17"], ("D8:6", "D9:17"), []),
        (["D30:05"], ("D30:5",), []),
        (["D:11:26"], ("D11:26",), []),
        (["D"], (), ["'D' is not a turn id"]),
        (["D1:99"], (), ["'D1:99' names no turn of the conversation"]),
        (["d9:17 ", "D9:17"], ("D9:17",), []),
        ([""], (), ["'' is empty"]),
        ([17], (), ["'17' is not a turn id"]),
    ],
)
def test_normalize_evidence(raw: list[Any], expected: tuple[str, ...], dropped: list[str]) -> None:
    valid = {"D8:6", "D9:17", "D30:5", "D11:26", "D1:1"}
    ids, notes = normalize_evidence(raw, valid, EvidenceRepairs())
    assert ids == expected
    assert notes == dropped


def test_the_dev_file_loads_with_the_documented_counts() -> None:
    dev = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "locomo"
    path = dev / "locomo_dev.json"
    if not path.is_file():
        pytest.skip("the shared LoCoMo dev file is not on this machine")
    ds = load_locomo(path)
    assert len(ds.conversations) == 6
    assert sum(len(c.turns) for c in ds.conversations) == 3435
    assert len(ds.questions) + len(ds.skipped) == 1157
    assert len(ds.skipped) == 2


def test_longmemeval_evidence_comes_from_has_answer_flags() -> None:
    ds = load_longmemeval(LONGMEMEVAL)
    assert [c.id for c in ds.conversations] == ["q-user-1", "q-multi-2", "q-3_abs"]
    first = ds.conversations[0]
    assert [t.id for t in first.turns] == ["sess_a:0", "sess_a:1", "answer_b:0", "answer_b:1"]
    assert first.speakers == ["user", "assistant"]
    assert first.turns[2].session_time == datetime(2023, 5, 20, 2, 21, tzinfo=UTC)
    q1, q2 = ds.questions
    assert q1.evidence == ("answer_b:0",) and q1.category == "single-session-user"
    assert q1.asked_at == datetime(2023, 6, 10, 18, 20, tzinfo=UTC)
    assert q2.evidence == ("answer_c:0", "answer_d:0") and q2.category == "multi-session"
    assert [s.question.category for s in ds.skipped] == ["abstention"]
    assert ds.skipped[0].reason == "no turn is flagged has_answer"
    assert "abstention" not in ds.overall_categories
    assert ds.evidence_repairs == {"answer session ids not in the haystack": 1}


def write(tmp_path: Path, content: Any, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InvalidInputError, match=f"^missing file: {re.escape(str(missing))}$"):
        load_locomo(missing)
    with pytest.raises(InvalidInputError, match="missing file"):
        load_longmemeval(missing)


def locomo_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = json.loads(LOCOMO.read_text())[1]
    item.update(changes)
    return item


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "invalid JSON at line 1 column 2"),
        ({"sample_id": "x"}, "expected a non-empty JSON list of conversations"),
        ([], "expected a non-empty JSON list of conversations"),
        (["conv"], "element 0 is a str, not a conversation object"),
        ([{"sample_id": "c", "conversation": {}}], "element 0 lacks qa"),
        (
            [locomo_item(conversation={"speaker_a": "A"})],
            "conversation conv-t2 has no session_<n> list",
        ),
        ([locomo_item(qa={})], "conversation conv-t2: 'qa' is not a list"),
        (
            [locomo_item(qa=[{"question": "q?", "evidence": [], "category": 7}])],
            "conversation conv-t2 qa\\[0\\] has category 7, not 1-5",
        ),
        (
            [
                locomo_item(
                    conversation={"session_1": [{"speaker": "A", "dia_id": "D1:1"}]},
                )
            ],
            "conversation conv-t2 session_1 turn 0 lacks text",
        ),
        ([locomo_item(), locomo_item()], "two conversations are named conv-t2"),
    ],
)
def test_malformed_locomo_files_fail_with_a_clear_message(
    tmp_path: Path, content: Any, problem: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(
        InvalidInputError, match=f"^not a LoCoMo file: {re.escape(str(path))}: {problem}"
    ):
        load_locomo(path)


def test_a_longmemeval_file_is_not_a_locomo_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="element 0 lacks sample_id, conversation, qa"):
        load_dataset("locomo", LONGMEMEVAL)
    with pytest.raises(InvalidInputError, match=r"not a LongMemEval file: .*lacks question_id"):
        load_dataset("longmemeval", LOCOMO)


def test_longmemeval_mismatched_haystack_fails(tmp_path: Path) -> None:
    items = json.loads(LONGMEMEVAL.read_text())
    items[0]["haystack_dates"] = items[0]["haystack_dates"][:1]
    path = write(tmp_path, items)
    with pytest.raises(InvalidInputError, match="2 session ids, 1 dates and 2 sessions"):
        load_longmemeval(path)


def test_unknown_dataset_name() -> None:
    with pytest.raises(InvalidInputError, match="unknown dataset 'mystery'"):
        load_dataset("mystery", LOCOMO)


def test_limited_keeps_the_first_conversations_and_their_questions() -> None:
    ds = load_locomo(LOCOMO).limited(1)
    assert [c.id for c in ds.conversations] == ["conv-t1"]
    assert {q.conversation_id for q in ds.questions} == {"conv-t1"}
    with pytest.raises(InvalidInputError, match="limit_conversations"):
        load_locomo(LOCOMO).limited(0)
