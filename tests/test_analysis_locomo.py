"""The analysis functions on the real LoCoMo turns: throughput and a few known answers.

Skipped when ``../shared/data/locomo/locomo_dev.json`` is not beside the repository.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.analysis import (
    analyze_query,
    atomic_facts,
    content_tokens,
    extract_entities,
    keyphrases,
    parse_session_datetime,
    resolve_dates,
    segment_session,
    split_sentences,
)

LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"

pytestmark = pytest.mark.skipif(not LOCOMO.exists(), reason=f"{LOCOMO} is absent")

Turn = tuple[str, str, str, str, datetime]  # dia_id, speaker, listener, text, session time


@pytest.fixture(scope="module")
def conversations() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(LOCOMO.read_text())
    return data


@pytest.fixture(scope="module")
def turns(conversations: list[dict[str, Any]]) -> list[Turn]:
    out: list[Turn] = []
    for conv in conversations:
        c = conv["conversation"]
        a, b = c["speaker_a"], c["speaker_b"]
        for key, value in c.items():
            if key.startswith("session_") and isinstance(value, list):
                when = parse_session_datetime(c[f"{key}_date_time"])
                for t in value:
                    listener = b if t["speaker"] == a else a
                    out.append((t["dia_id"], t["speaker"], listener, t["text"], when))
    return out


def _rate(turns: list[Turn], step: Callable[[Turn], object]) -> float:
    start = time.perf_counter()
    for turn in turns:
        step(turn)
    return len(turns) / (time.perf_counter() - start)


def test_throughput_on_real_turns(turns: list[Turn]) -> None:
    steps: dict[str, Callable[[Turn], object]] = {
        "split_sentences": lambda t: split_sentences(t[3]),
        "content_tokens": lambda t: content_tokens(t[3]),
        "keyphrases": lambda t: keyphrases(t[3]),
        "resolve_dates": lambda t: resolve_dates(t[3], t[4]),
        "extract_entities": lambda t: extract_entities(t[3], (t[1], t[2])),
        "atomic_facts": lambda t: atomic_facts(t[3], t[1], listener=t[2], reference=t[4]),
    }
    rates = {name: _rate(turns, step) for name, step in steps.items()}
    print()
    for name, rate in rates.items():
        print(f"{name:>17}: {rate:8.0f} turns/s over {len(turns)} LoCoMo turns")
    # A loaded 2-core machine still does well over these; a pathological regex does not.
    assert min(rates.values()) > 300


def test_session_dates_all_parse(conversations: list[dict[str, Any]]) -> None:
    for conv in conversations:
        c = conv["conversation"]
        for key, value in c.items():
            if key.endswith("_date_time"):
                assert 2019 <= parse_session_datetime(value).year <= 2025


def _turn(turns: list[Turn], dia_id: str, speaker: str) -> Turn:
    return next(t for t in turns if t[0] == dia_id and t[1] == speaker)


def test_known_relative_dates_resolve_to_the_gold_answers(turns: list[Turn]) -> None:
    # "When did Caroline go to the LGBTQ support group?" → 7 May 2023 (evidence D1:3).
    _, _, _, text, when = _turn(turns, "D1:3", "Caroline")
    assert [(m.surface, m.start) for m in resolve_dates(text, when)] == [
        ("yesterday", date(2023, 5, 7))
    ]
    # "When is Melanie planning on going camping?" → June 2023 (evidence D2:7).
    _, _, _, text, when = _turn(turns, "D2:7", "Melanie")
    assert [m.label() for m in resolve_dates(text, when)] == ["June 2023"]


def test_atomic_facts_on_real_turns_are_statements_about_someone(turns: list[Turn]) -> None:
    facts = 0
    for _, speaker, listener, text, when in turns:
        for fact in atomic_facts(text, speaker, listener=listener, reference=when):
            facts += 1
            assert not fact.endswith("?")
            assert fact.lstrip("\"'(")[0].isupper() and fact.endswith(".")
            assert " I " not in f" {fact} " and not fact.lower().startswith(("you ", "i "))
    assert 0.5 * len(turns) < facts < 3 * len(turns)


def test_real_sessions_segment_into_covering_ranges(conversations: list[dict[str, Any]]) -> None:
    c = conversations[0]["conversation"]
    for key, value in c.items():
        if key.startswith("session_") and isinstance(value, list):
            texts = [t["text"] for t in value]
            segments = segment_session(texts, None, max_turns=8)
            assert segments[0][0] == 0 and segments[-1][1] == len(texts)
            assert all(0 < b - a <= 8 for a, b in segments)


def test_temporal_questions_are_recognised(conversations: list[dict[str, Any]]) -> None:
    temporal = [q for conv in conversations for q in conv["qa"] if q["category"] == 2]
    recognised = sum(analyze_query(q["question"], None).temporal for q in temporal)
    assert recognised / len(temporal) > 0.85
