"""The runner end to end with a scripted system: known evidence gives known recall, in parallel,
resumably, and without any gold-derived data reaching the system."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from evals.loaders import load_locomo
from evals.runner import RunConfig, run
from evals.systems import (
    Conversation,
    IngestStats,
    Question,
    RetrievedItem,
    register_system,
    system_spec,
)

DATA = Path(__file__).parent / "data" / "locomo_small.json"


def words(n: int) -> str:
    """A text of exactly ``n`` cl100k tokens."""
    return "x" + " x" * (n - 1)


# For each question: the ranked items (source turns, token length) the scripted system returns.
SCRIPT: dict[str, list[tuple[tuple[str, ...], int]]] = {
    "What is the name of Ann's cat?": [(("D1:2",), 8), (("D1:1",), 8)],
    "Where did Ben move and what does he work as?": [(("D2:1", "D2:2"), 30), (("D2:3",), 5)],
    "When did Ann run a marathon?": [(("D1:1",), 5), (("D3:2",), 5), (("D3:1",), 5)],
}
BUDGETS = (10, 20, 40)


class ScriptedSystem:
    """Returns SCRIPT's items, ignores the budget, and logs everything it is given."""

    name = "scripted"

    def __init__(self, seed: int = 0, cache_dir: Path | None = None, **_: Any) -> None:
        assert cache_dir is not None
        self.log = cache_dir.parent / "scripted-log.jsonl"

    def _write(self, event: dict[str, Any]) -> None:
        with self.log.open("a") as fh:
            fh.write(json.dumps(event, default=str) + "\n")

    def ingest(self, conversation: Conversation, workdir: Path) -> IngestStats:
        self._write({"event": "ingest", "pid": os.getpid(), **dataclasses.asdict(conversation)})
        return IngestStats(turns=len(conversation.turns), seconds=0.5, llm_calls=3, llm_tokens=90)

    def restore(self, conversation: Conversation, workdir: Path) -> None:
        self._write({"event": "restore", "id": conversation.id})

    def retrieve(
        self, conversation_id: str, question: Question, budget_tokens: int
    ) -> list[RetrievedItem]:
        self._write({"event": "retrieve", "budget": budget_tokens, **dataclasses.asdict(question)})
        script = SCRIPT.get(question.text, [])
        return [RetrievedItem(words(n), turns, 0, 1.0) for turns, n in script]


register_system("scripted", ScriptedSystem)


def config(out: Path, workers: int = 1, fresh: bool = False) -> RunConfig:
    spec = system_spec("scripted", seed=0, cache_dir=out / "cache")
    return RunConfig(out=out, systems=(spec,), budgets=BUDGETS, workers=workers, fresh=fresh)


def events(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "scripted-log.jsonl").read_text().splitlines()]


def test_known_evidence_gives_known_recall(tmp_path: Path) -> None:
    outcome = run(load_locomo(DATA), config(tmp_path))
    records = {r.question: r for r in outcome.records}
    assert len(records) == 9  # 7 + 2 questions with valid evidence
    cat = records["What is the name of Ann's cat?"]  # gold D1:1, ranked second
    assert cat.recall == {10: 0.0, 20: 1.0, 40: 1.0}
    assert cat.hit == {10: 0.0, 20: 1.0, 40: 1.0}
    assert cat.tokens == {10: 8, 20: 16, 40: 16}
    assert cat.covered == {10: 1, 20: 2, 40: 2}
    assert cat.mrr == pytest.approx(0.5)
    moved = records["Where did Ben move and what does he work as?"]  # gold D2:1, D2:3
    # The 30-token item does not fit 10 or 20 tokens; the 5-token one after it does.
    assert moved.recall == {10: 0.5, 20: 0.5, 40: 1.0}
    assert moved.hit == {10: 1.0, 20: 1.0, 40: 1.0}
    assert moved.tokens == {10: 5, 20: 5, 40: 35}
    assert moved.covered == {10: 1, 20: 1, 40: 3}
    assert moved.mrr == 1.0
    assert moved.top_turns == ("D2:1", "D2:2", "D2:3")
    marathon = records["When did Ann run a marathon?"]  # gold D3:1, third item
    assert marathon.recall == {10: 0.0, 20: 1.0, 40: 1.0}
    assert marathon.ndcg == pytest.approx(0.5)  # 1/log2(4)
    unscripted = records["What colour is Ann's cat?"]
    assert unscripted.recall == {10: 0.0, 20: 0.0, 40: 0.0} and unscripted.mrr == 0.0
    assert [i.stats.llm_calls for i in outcome.ingests] == [3, 3]


def test_no_gold_derived_data_reaches_the_system(tmp_path: Path) -> None:
    run(load_locomo(DATA), config(tmp_path))
    log = (tmp_path / "scripted-log.jsonl").read_text()
    assert "SENTINEL" not in log  # observation, summaries, image query and URL
    seen = events(tmp_path)
    ingested = [e for e in seen if e["event"] == "ingest"]
    assert set(ingested[0]) == {"event", "pid", "id", "turns", "speakers"}
    assert set(ingested[0]["turns"][0]) == {
        "id", "session_id", "speaker", "text", "session_time", "image_caption", "index",
    }  # fmt: skip
    asked = [e for e in seen if e["event"] == "retrieve"]
    assert len(asked) == 9 * len(BUDGETS)
    assert all(e["evidence"] == [] and e["answer"] is None and e["category"] == "" for e in asked)
    assert sorted({e["budget"] for e in asked}) == list(BUDGETS)


def test_workers_give_the_same_records_as_one_process(tmp_path: Path) -> None:
    dataset = load_locomo(DATA)
    inline = run(dataset, config(tmp_path / "one"))
    parallel = run(dataset, config(tmp_path / "two", workers=2))
    strip = [dataclasses.replace(r, latency_ms={}) for r in inline.records]
    assert [dataclasses.replace(r, latency_ms={}) for r in parallel.records] == strip
    pids = {e["pid"] for e in events(tmp_path / "two") if e["event"] == "ingest"}
    assert os.getpid() not in pids


def test_a_completed_ingest_is_reused_unless_fresh(tmp_path: Path) -> None:
    dataset = load_locomo(DATA)
    run(dataset, config(tmp_path))
    again = run(dataset, config(tmp_path))
    assert [i.reused for i in again.ingests] == [True, True]
    assert [i.stats.llm_calls for i in again.ingests] == [3, 3]  # the first ingest's cost
    kinds = [e["event"] for e in events(tmp_path) if e["event"] != "retrieve"]
    assert kinds == ["ingest", "ingest", "restore", "restore"]
    fresh = run(dataset, config(tmp_path, fresh=True))
    assert [i.reused for i in fresh.ingests] == [False, False]
    kinds = [e["event"] for e in events(tmp_path) if e["event"] != "retrieve"]
    assert kinds == ["ingest", "ingest", "restore", "restore", "ingest", "ingest"]


def test_a_changed_conversation_is_ingested_again(tmp_path: Path) -> None:
    dataset = load_locomo(DATA)
    run(dataset, config(tmp_path))
    conv = dataset.conversations[1]
    edited_turn = dataclasses.replace(conv.turns[0], text="Something else entirely.")
    edited = dataclasses.replace(conv, turns=[edited_turn, *conv.turns[1:]])
    changed = dataclasses.replace(dataset, conversations=(dataset.conversations[0], edited))
    outcome = run(changed, config(tmp_path))
    assert [i.reused for i in outcome.ingests] == [True, False]


def test_system_errors_name_the_system_and_conversation(tmp_path: Path) -> None:
    dataset = load_locomo(DATA)
    spec = system_spec("bm25", seed=0, cache_dir=tmp_path / "cache")
    broken = dataclasses.replace(dataset.conversations[0], turns=[], id="conv-empty")
    empty = dataclasses.replace(dataset, conversations=(broken,), questions=(), skipped=())
    with pytest.raises(ValueError, match="conversation conv-empty has no turns") as info:
        run(empty, RunConfig(out=tmp_path, systems=(spec,), workers=1))
    assert "while evaluating bm25 on conversation conv-empty" in info.value.__notes__
