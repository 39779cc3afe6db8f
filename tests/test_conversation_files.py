"""Conversation files: Hypermnesia's JSON format, LoCoMo's, and clear errors on malformed input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memory.conversations import load_conversation_file, select_conversations
from memory.errors import InvalidInputError

SAMPLE = Path(__file__).resolve().parent.parent / "evals" / "samples" / "demo_conversation.json"
LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo_dev.json"


def _write(tmp_path: Path, data: Any, name: str = "conv.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _minimal() -> dict[str, Any]:
    return {
        "conversation_id": "c1",
        "speakers": ["Ann", "Bot"],
        "sessions": [
            {
                "session_id": "B",
                "date": "2024-02-01T10:00:00+02:00",
                "turns": [{"speaker": "Ann", "text": "Later session.", "id": "custom-1"}],
            },
            {
                "session_id": "A",
                "date": "2024-01-01T09:00:00",
                "turns": [
                    {"speaker": "Ann", "text": "Hello there."},
                    {"speaker": "Bot", "text": "Hi Ann.", "image_caption": "a wave"},
                ],
            },
        ],
    }


def test_bundled_sample_loads_with_default_ids_and_session_times() -> None:
    (conv,) = load_conversation_file(SAMPLE)
    assert conv.conversation_id == "demo"
    assert conv.speakers == ("Sam", "Assistant")
    assert [s.session_id for s in conv.sessions] == ["S1", "S2", "S3", "S4"]
    first = conv.sessions[0].turns
    assert [t.id for t in first[:3]] == ["S1:1", "S1:2", "S1:3"]
    assert [t.index for t in first[:3]] == [0, 1, 2]
    assert all(t.session_time == datetime(2023, 5, 8, 13, 56, tzinfo=UTC) for t in first)
    assert conv.sessions[1].turns[0].image_caption is not None
    assert conv.turn_count == 19


def test_sessions_are_ordered_by_date_and_offsets_respected(tmp_path: Path) -> None:
    (conv,) = load_conversation_file(_write(tmp_path, _minimal()))
    assert [s.session_id for s in conv.sessions] == ["A", "B"]
    a, b = conv.sessions
    assert [t.id for t in a.turns] == ["A:1", "A:2"]
    assert a.turns[1].image_caption == "a wave"
    assert b.turns[0].id == "custom-1"
    assert b.date == datetime(2024, 2, 1, 8, 0, tzinfo=UTC)


def test_speakers_list_is_optional(tmp_path: Path) -> None:
    data = _minimal()
    del data["speakers"]
    data["sessions"][0]["turns"][0]["speaker"] = "Someone else"
    (conv,) = load_conversation_file(_write(tmp_path, data))
    assert conv.speakers == ()
    assert conv.sessions[1].turns[0].speaker == "Someone else"


def _broken(mutate: Any) -> dict[str, Any]:
    data = _minimal()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "JSON list must be LoCoMo"),
        ("text", "expected a JSON object"),
        (_broken(lambda d: d.pop("conversation_id")), "lacks 'conversation_id'"),
        (_broken(lambda d: d.pop("sessions")), "lacks 'sessions'"),
        (_broken(lambda d: d.update(sessions=[])), "'sessions' is empty"),
        (_broken(lambda d: d["sessions"][0].pop("date")), "session B lacks 'date'"),
        (_broken(lambda d: d["sessions"][0].update(date="8 May")), "not ISO 8601"),
        (_broken(lambda d: d["sessions"][1].update(turns=[])), "session A: 'turns' is empty"),
        (_broken(lambda d: d["sessions"][1]["turns"][1].pop("text")), "session A turn 2 lacks"),
        (_broken(lambda d: d["sessions"][1]["turns"][0].update(text="  ")), "'text' is empty"),
        (_broken(lambda d: d["sessions"][1]["turns"][0].update(speaker=3)), "not a string"),
        (_broken(lambda d: d["sessions"][1]["turns"][0].update(speaker="Eve")), "not in 'speak"),
        (_broken(lambda d: d["sessions"][1].update(session_id="B")), "two sessions"),
        (_broken(lambda d: d["sessions"][1]["turns"][0].update(id="custom-1")), "two turns"),
        (_broken(lambda d: d.update(speakers="Ann")), "'speakers' must be a list"),
        (_broken(lambda d: d["sessions"][1]["turns"][0].update(id=" ")), "turn 1: 'id' is empty"),
        (_broken(lambda d: d["sessions"][1]["turns"][0].update(text="a \ud800")), "surrogate"),
        (
            _broken(lambda d: d["sessions"][0].update(date="9999-12-31T23:00:00-05:00")),
            "session B turn 1: session_time: date 9999-12-31T23:00:00-05:00 is out",
        ),
        (
            _broken(lambda d: d["sessions"][1]["turns"][1].update(text="x" * 31_990)),
            "session A turn 2: text and image caption are 32006 characters",
        ),
    ],
)
def test_malformed_files_raise_naming_file_and_problem(
    tmp_path: Path, data: Any, message: str
) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(InvalidInputError) as info:
        load_conversation_file(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_odd_ids_are_quoted_so_the_error_stays_on_one_line(tmp_path: Path) -> None:
    data = _minimal()
    data["sessions"][0].update(session_id="two\nlines", date=None)
    with pytest.raises(InvalidInputError) as info:
        load_conversation_file(_write(tmp_path, data))
    assert "session 'two\\nlines' lacks 'date'" in str(info.value)
    item = _locomo_item("conv\ta")
    item["conversation"]["session_1"][0]["text"] = [1]
    with pytest.raises(InvalidInputError) as info:
        load_conversation_file(_write(tmp_path, [item]))
    assert "conversation 'conv\\ta' session_1 turn 0: 'text' is a list" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="missing file"):
        load_conversation_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"conversation_id": ', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"bad\.json: invalid JSON at line 1"):
        load_conversation_file(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xef\xbb\xbf" + json.dumps(_minimal()).encode(), None),
        (b"[" * 100_000, "JSON nested too deeply"),
        (b'{"conversation_id": ' + b"1" * 5000 + b"}", "a number in it has too many digits"),
        (b'{"conversation_id": "caf\xe9"}', "not UTF-8 text (invalid continuation byte at byte"),
        (b"", "invalid JSON at line 1 column 1"),
    ],
)
def test_unreadable_json_is_named(tmp_path: Path, content: bytes, message: str | None) -> None:
    path = tmp_path / "conv.json"
    path.write_bytes(content)
    if message is None:  # a byte-order mark is fine
        assert load_conversation_file(path)[0].conversation_id == "c1"
        return
    with pytest.raises(InvalidInputError) as info:
        load_conversation_file(path)
    assert f"not a conversation file: {path}: {message}" in str(info.value)


def test_unreadable_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"cannot read conversation file .*directory"):
        load_conversation_file(tmp_path)
    long_name = tmp_path / ("x" * 5000)
    with pytest.raises(InvalidInputError, match="File name too long"):
        load_conversation_file(long_name)


def _locomo_item(sample_id: str) -> dict[str, Any]:
    return {
        "sample_id": sample_id,
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_2_date_time": "8:00 pm on 9 May, 2023",
            "session_2": [{"speaker": "Melanie", "dia_id": "D2:1", "text": "Second."}],
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "Hi Mel!"},
                {
                    "speaker": "Melanie",
                    "dia_id": "D1:2",
                    "text": "Look at this.",
                    "blip_caption": "a photo of a lake",
                    "query": "lake",
                },
            ],
        },
        "qa": [{"question": "Q?", "answer": "A", "evidence": ["D1:1"], "category": 4}],
        "observation": {"session_1_observation": "SECRET OBSERVATION"},
        "session_summary": {"session_1_summary": "SECRET SUMMARY"},
        "event_summary": {"events_session_1": "SECRET EVENT"},
    }


def test_locomo_format_is_detected_and_derived_fields_never_read(tmp_path: Path) -> None:
    path = _write(tmp_path, [_locomo_item("conv-a"), _locomo_item("conv-b")])
    convs = load_conversation_file(path)
    assert [c.conversation_id for c in convs] == ["conv-a", "conv-b"]
    conv = convs[0]
    assert conv.speakers == ("Caroline", "Melanie")
    assert [s.session_id for s in conv.sessions] == ["session_1", "session_2"]
    assert [t.id for t in conv.sessions[0].turns] == ["D1:1", "D1:2"]
    assert conv.sessions[0].turns[1].image_caption == "a photo of a lake"
    assert conv.sessions[0].date == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    dumped = repr(convs)
    assert "SECRET" not in dumped
    assert "lake" in dumped and "'lake'" not in dumped  # the image query is not read either


def test_select_conversations(tmp_path: Path) -> None:
    convs = load_conversation_file(_write(tmp_path, [_locomo_item("x1"), _locomo_item("x2")]))
    assert [c.conversation_id for c in select_conversations(convs, None)] == ["x1", "x2"]
    assert [c.conversation_id for c in select_conversations(convs, "x2")] == ["x2"]
    with pytest.raises(InvalidInputError, match=r"no conversation 'x3'.*x1, x2"):
        select_conversations(convs, "x3")


def test_malformed_locomo_names_file(tmp_path: Path) -> None:
    item = _locomo_item("conv-a")
    del item["conversation"]["session_1"][0]["dia_id"]
    path = _write(tmp_path, [item])
    with pytest.raises(InvalidInputError, match=r"conv\.json.*lacks dia_id"):
        load_conversation_file(path)


def _locomo_broken(mutate: Any) -> list[dict[str, Any]]:
    item = _locomo_item("conv-a")
    mutate(item["conversation"])
    return [item]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_locomo_broken(lambda c: c.update(session_2="x")), "'session_2' is a str, not a list"),
        (
            _locomo_broken(lambda c: c.update(session_02=[])),
            "'session_02' repeats session number 2",
        ),
        (
            _locomo_broken(lambda c: c.update(session_1_date_time="teatime")),
            "conversation conv-a session_1: date 'teatime' is not like",
        ),
        (
            _locomo_broken(lambda c: c["session_1"][0].update(text=["a", "b"])),
            "conversation conv-a session_1 turn 0: 'text' is a list, not a string",
        ),
        (
            _locomo_broken(lambda c: c["session_2"][0].update(dia_id={"id": 1})),
            "session_2 turn 0: 'dia_id' is a dict",
        ),
        (_locomo_broken(lambda c: c.update(speaker_a=True)), "'speaker_a' is a bool"),
        (
            _locomo_broken(lambda c: c.update(session_1=[], session_2=[])),
            "conversation conv-a has no turns",
        ),
    ],
)
def test_broken_locomo_sessions_are_named(tmp_path: Path, data: Any, message: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(InvalidInputError) as info:
        load_conversation_file(path)
    assert str(info.value).startswith(f"not a LoCoMo file: {path}: ")
    assert message in str(info.value)


def test_locomo_numbers_read_as_text_and_missing_dates_leave_turns_undated(tmp_path: Path) -> None:
    item = _locomo_item("conv-a")
    del item["conversation"]["session_2_date_time"]
    item["conversation"]["session_2"][0]["text"] = 42
    (conv,) = load_conversation_file(_write(tmp_path, [item]))
    assert conv.sessions[1].date is None and conv.sessions[1].turns[0].text == "42"


@pytest.mark.skipif(not LOCOMO.is_file(), reason="the shared LoCoMo file is not on this machine")
def test_real_locomo_file() -> None:
    convs = load_conversation_file(LOCOMO)
    assert [c.conversation_id for c in convs][:2] == ["conv-26", "conv-30"]
    conv26 = convs[0]
    assert len(conv26.sessions) == 19
    assert conv26.sessions[0].turns[0].id == "D1:1"
    assert sum(c.turn_count for c in convs) == 3435


def test_the_benchmark_loader_reads_locomo_turns_as_ingest_does() -> None:
    from evals.loaders import load_locomo

    small = Path(__file__).parent / "data" / "locomo_small.json"
    dataset = load_locomo(small)
    ingested = load_conversation_file(small)
    assert [c.id for c in dataset.conversations] == [c.conversation_id for c in ingested]
    for evaluated, conv in zip(dataset.conversations, ingested, strict=True):
        assert evaluated.speakers == list(conv.speakers)
        turns = [t for s in conv.sessions for t in s.turns]
        assert [
            (t.id, t.session_id, t.speaker, t.text, t.session_time, t.image_caption, t.index)
            for t in evaluated.turns
        ] == [
            (t.id, t.session_id, t.speaker, t.text, t.session_time, t.image_caption, t.index)
            for t in turns
        ]
    assert "SENTINEL" not in repr(ingested)
