"""Datasets and reward functions for fine-tuning an LLM-mode agent with TRL's ``GRPOTrainer``.

The export writes ``train.jsonl``: a ``prompt`` column holding the agent's chat messages (built by
its prompt in :mod:`prompts`, exactly as the agent sends them) and the columns its reward reads.
Each reward function has TRL's ``reward_funcs`` signature — ``prompts``, ``completions`` and every
other dataset column as keyword arguments, one value per completion — and returns one float per
completion. A completion that does not parse into the prompt's output model scores 0.

- ``retriever`` (``retriever.analyze``): share of the gold evidence's content words the analysis
  names (rewritten query, keywords, entities) — a search text that names them finds them;
- ``judge`` (``judge.sufficiency`` over the hand-set route's evidence at 1000 tokens): 1 when
  the verdict matches whether that evidence covers every gold turn;
- ``constructor`` (``constructor.facts`` per session): facts that cite the session's gold
  evidence turns, cite no turn outside it, and do not contradict or repeat one another.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from evals.hypermnesia import sessions_of
from evals.loaders import Dataset
from evals.metrics import covered_turns
from evals.rl.rollouts import Rollouts, rollout_questions
from evals.systems import Conversation
from memory.errors import InvalidInputError, LLMOutputError
from memory.llm_repair import parse_structured
from memory.text import content_tokens
from prompts.constructor import FACTS, FactList
from prompts.judge import SUFFICIENCY, SufficiencyVerdict
from prompts.retriever import ANALYZE, QueryAnalysis

__all__ = [
    "AGENTS",
    "REWARDS",
    "constructor_reward",
    "export_dataset",
    "judge_reward",
    "retriever_reward",
]

Agent = Literal["judge", "constructor", "retriever"]
AGENTS: tuple[Agent, ...] = ("judge", "constructor", "retriever")


def _text(completion: Any) -> str:
    """A completion's text: a plain string, or a conversational list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return ""


def _parse(completion: Any, model: type[Any]) -> Any | None:
    try:
        return parse_structured(_text(completion), model)
    except LLMOutputError:
        return None


def retriever_reward(
    prompts: Sequence[Any], completions: Sequence[Any], gold_evidence: Sequence[str], **_: Any
) -> list[float]:
    """0.5 for a parsing analysis, plus half the share of gold content words it names."""
    out = []
    for completion, gold in zip(completions, gold_evidence, strict=True):
        value = _parse(completion, QueryAnalysis)
        if value is None:
            out.append(0.0)
            continue
        named = " ".join([value.rewritten_query, *value.keywords, *value.entities])
        wanted = set(content_tokens(gold))
        found = len(wanted & set(content_tokens(named))) / len(wanted) if wanted else 0.0
        out.append(0.5 + 0.5 * found)
    return out


def judge_reward(
    prompts: Sequence[Any], completions: Sequence[Any], sufficient: Sequence[bool], **_: Any
) -> list[float]:
    """1 when the verdict parses and says what the gold evidence says, else 0."""
    out = []
    for completion, truth in zip(completions, sufficient, strict=True):
        value = _parse(completion, SufficiencyVerdict)
        out.append(1.0 if value is not None and value.sufficient == bool(truth) else 0.0)
    return out


def constructor_reward(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    turn_ids: Sequence[Sequence[str]],
    evidence_turn_ids: Sequence[Sequence[str]],
    **_: Any,
) -> list[float]:
    """0.4·gold turns cited + 0.3·facts citing only the session's turns + 0.3·consistency."""
    out = []
    for completion, turns, gold in zip(completions, turn_ids, evidence_turn_ids, strict=True):
        value = _parse(completion, FactList)
        if value is None:
            out.append(0.0)
            continue
        facts = value.facts
        cited = {t for f in facts for t in f.source_turn_ids}
        coverage = len(cited & set(gold)) / len(gold) if gold else 1.0
        grounded = sum(
            1 for f in facts if f.source_turn_ids and set(f.source_turn_ids) <= set(turns)
        )
        grounding = grounded / len(facts) if facts else 0.0
        out.append(0.4 * coverage + 0.3 * grounding + 0.3 * _consistency(facts))
    return out


def _consistency(facts: Sequence[Any]) -> float:
    """1 minus the share of facts repeating another or giving a held slot another value."""
    if not facts:
        return 1.0
    texts = [" ".join(f.text.casefold().split()) for f in facts]
    repeats = len(texts) - len(set(texts))
    slots: dict[str, set[str]] = {}
    for f in facts:
        if f.attribute and "=" in f.attribute:
            name, _, value = f.attribute.partition("=")
            slots.setdefault(f"{f.subject.casefold()}|{name}", set()).add(value)
    clashes = sum(len(v) - 1 for v in slots.values())
    return max(0.0, 1.0 - (repeats + clashes) / len(facts))


REWARDS = {"judge": judge_reward, "constructor": constructor_reward, "retriever": retriever_reward}
"""The reward function of each agent's export."""


def export_dataset(dataset: Dataset, agent: str, out: Path, work: Path) -> Path:
    """Write ``out/train.jsonl`` for ``agent``; the judge's rows need the hand-set route's
    evidence, so it ingests (or reuses the ingest in) ``work``."""
    if agent not in AGENTS:
        raise InvalidInputError(f"unknown agent {agent!r}: use one of {', '.join(AGENTS)}")
    texts = {t.id: t.text for c in dataset.conversations for t in c.turns}
    if agent == "retriever":
        rows = [
            {
                "prompt": ANALYZE.messages(q.text, q.asked_at),
                "gold_evidence": " ".join(texts.get(t, "") for t in q.evidence),
                "question_id": q.id,
            }
            for q in rollout_questions(dataset)
        ]
    elif agent == "constructor":
        rows = [row for c in dataset.conversations for row in _session_rows(c, dataset)]
    else:
        rows = _judge_rows(dataset, work)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "train.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    meta = {"agent": agent, "rows": len(rows), "reward": f"evals.rl.trl:{agent}_reward"}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return path


def _session_rows(conv: Conversation, dataset: Dataset) -> list[dict[str, Any]]:
    gold = {t for q in dataset.questions if q.conversation_id == conv.id for t in q.evidence}
    sessions = sessions_of(conv)
    return [
        {
            "prompt": FACTS.messages(turns),
            "turn_ids": [t.id for t in turns],
            "evidence_turn_ids": [t.id for t in turns if t.id in gold],
            "session_id": f"{conv.id}/{sid}",
        }
        for sid, turns in sessions.items()
        if any(t.session_time is not None for t in turns)
    ]


def _judge_rows(dataset: Dataset, work: Path) -> list[dict[str, Any]]:
    from agents.policy import HAND_SET

    rollouts = Rollouts(dataset, work)
    rows = []
    questions = rollout_questions(dataset)
    for conv in dataset.conversations:
        asked = [q for q in questions if q.conversation_id == conv.id]
        if not asked:
            continue
        with rollouts.conversation(conv) as open_:
            for q in asked:
                result = open_.recall(q, HAND_SET, 1000)
                evidence = [(e.unit_id, e.text) for e in result.evidence]
                covered = covered_turns(open_.items(result, 1000))
                rows.append(
                    {
                        "prompt": SUFFICIENCY.messages(q.text, evidence),
                        "sufficient": set(q.evidence) <= covered,
                        "question_id": q.id,
                    }
                )
    return rows
