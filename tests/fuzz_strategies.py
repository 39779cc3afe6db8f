"""Hypothesis strategies of bad input for the fuzz tests: conversation files with one thing broken
(each paired with a fragment its error must contain), odd turns, namespace parts and export lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from memory.model import MAX_TEXT_CHARS

#: Few examples and no deadline: the fuzz files must stay quick on a busy machine.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

Case = tuple[Any, str]
"""Bad input and a fragment its error message must contain."""

# -- valid conversation files, then one thing broken ---------------------------------------------

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
texts = words.filter(lambda t: bool(t.strip()))
names = st.one_of(texts, st.sampled_from(["two\nlines", "tab\there", " padded ", "ünï", "x" * 99]))
dates = st.datetimes(datetime(1970, 1, 1), datetime(2100, 1, 1))


@st.composite
def native_files(draw: st.DrawFn) -> dict[str, Any]:
    """A valid file in Hypermnesia's format: unique session ids, known speakers."""
    speakers = draw(st.lists(texts, min_size=1, max_size=3, unique_by=str.strip))
    session_ids = draw(st.lists(names, min_size=1, max_size=3, unique_by=str.strip))
    sessions = [
        {
            "session_id": sid,
            "date": draw(dates).isoformat(),
            "turns": [
                {"speaker": draw(st.sampled_from(speakers)), "text": draw(texts)}
                for _ in range(draw(st.integers(1, 3)))
            ],
        }
        for sid in session_ids
    ]
    return {"conversation_id": draw(names), "speakers": speakers, "sessions": sessions}


def _pick(draw: st.DrawFn, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    session = draw(st.sampled_from(data["sessions"]))
    return session, draw(st.sampled_from(session["turns"]))


not_str = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({}))
not_list = st.one_of(st.integers(), texts, st.just({"a": 1}))
not_iso = texts.filter(lambda t: not _iso(t))
blank = st.sampled_from(["", " ", "\t\n", "\u3000", "\u2003 "])


def _iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


@st.composite
def broken_native(draw: st.DrawFn) -> Case:
    """A native file with one thing wrong, and a fragment the error must contain."""
    data = draw(native_files())
    session, turn = _pick(draw, data)
    kind = draw(st.sampled_from(BREAKS))
    return kind(draw, data, session, turn)


def _missing(draw: st.DrawFn, data: Any, session: Any, turn: Any) -> Case:
    where, key = draw(
        st.sampled_from(
            [
                (data, "conversation_id"),
                (data, "sessions"),
                (session, "session_id"),
                (session, "date"),
                (session, "turns"),
                (turn, "speaker"),
                (turn, "text"),
            ]
        )
    )
    if draw(st.booleans()):
        del where[key]
    else:
        where[key] = None
    return data, f"lacks {key!r}"


def _wrong_type(draw: st.DrawFn, data: Any, session: Any, turn: Any) -> Case:
    where, key, values = draw(
        st.sampled_from(
            [
                (data, "conversation_id", not_str),
                (session, "session_id", not_str),
                (session, "date", not_str),
                (turn, "speaker", not_str),
                (turn, "text", not_str),
                (turn, "id", not_str),
                (turn, "image_caption", not_str),
                (data, "sessions", not_list),
                (session, "turns", not_list),
            ]
        )
    )
    where[key] = draw(values)
    return data, f"{key!r} is a {type(where[key]).__name__}, not a"


def _duplicate(draw: st.DrawFn, data: Any, session: Any, turn: Any) -> Case:
    if draw(st.booleans()):
        data["sessions"].append(json.loads(json.dumps(session)))
        name = session["session_id"].strip()  # the loader trims names, and cuts long ones
        return data, f"two sessions are named {repr(name)[:40]}"
    turn["id"] = "same"
    session["turns"].append({**turn})
    return data, "two turns have the id 'same'"


def _bad_date(draw: st.DrawFn, data: Any, session: Any, turn: Any) -> Case:
    if draw(st.booleans()):
        session["date"] = draw(not_iso)
        return data, "is not ISO 8601"
    session["date"] = draw(st.sampled_from(["9999-12-31T23:30:00-01:00", "0001-01-01T00:00+05:00"]))
    return data, "is out of range once converted to UTC"


def _unknown_speaker(draw: st.DrawFn, data: Any, session: Any, turn: Any) -> Case:
    turn["speaker"] = draw(texts.filter(lambda t: t.strip() not in data["speakers"]))
    return data, "is not in 'speakers'"


def _bad_text(draw: st.DrawFn, data: Any, session: Any, turn: Any) -> Case:
    choice = draw(st.sampled_from(["blank", "huge", "caption", "surrogate", "empty lists"]))
    if choice == "blank":
        turn[draw(st.sampled_from(["text", "speaker"]))] = draw(blank)
        return data, "is empty"
    if choice == "huge":
        turn["text"] = "x" * draw(st.integers(MAX_TEXT_CHARS + 1, MAX_TEXT_CHARS + 99))
        return data, f"the limit is {MAX_TEXT_CHARS}"
    if choice == "caption":
        turn["text"], turn["image_caption"] = "x" * (MAX_TEXT_CHARS - 10), "a photo of a cat"
        return data, "text and image caption are"
    if choice == "surrogate":
        turn["text"] = draw(texts) + draw(st.sampled_from(["\ud800", "\udfff"]))
        return data, "lone surrogate"
    where, key = draw(st.sampled_from([(data, "sessions"), (session, "turns")]))
    where[key] = []
    return data, f"{key!r} is empty"


def _bad_bytes(draw: st.DrawFn, data: Any, session: Any, turn: Any) -> Case:
    raw = json.dumps(data).encode()
    choice = draw(st.sampled_from(["truncated", "not utf-8", "top level"]))
    if choice == "truncated":
        return raw[: draw(st.integers(0, len(raw) - 1))], "invalid JSON at line"
    if choice == "not utf-8":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe9"])) + raw[at:], (
            "not UTF-8 text"
        )
    value = draw(st.one_of(st.integers(), texts, st.lists(st.integers(), max_size=3)))
    return json.dumps(value).encode(), "not a conversation file"


BREAKS: list[Callable[..., Case]] = [
    _missing,
    _wrong_type,
    _duplicate,
    _bad_date,
    _unknown_speaker,
    _bad_text,
    _bad_bytes,
]


# -- LoCoMo-shaped files -------------------------------------------------------------------------

LOCOMO_DATES = ["1:56 pm on 8 May, 2023", "8 May, 2023", "10:04 am on 19 Jan, 2024"]


@st.composite
def locomo_files(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A valid LoCoMo list: numbered sessions with dates, unique dia_ids per conversation."""
    items = []
    for sample_id in draw(st.lists(names, min_size=1, max_size=2, unique_by=str.strip)):
        conv: dict[str, Any] = {"speaker_a": draw(texts), "speaker_b": draw(texts)}
        for number in draw(st.lists(st.integers(1, 30), min_size=1, max_size=3, unique=True)):
            conv[f"session_{number}_date_time"] = draw(st.sampled_from(LOCOMO_DATES))
            conv[f"session_{number}"] = [
                {"speaker": draw(texts), "dia_id": f"D{number}:{i}", "text": draw(texts)}
                for i in range(1, draw(st.integers(1, 3)) + 1)
            ]
        items.append({"sample_id": sample_id, "conversation": conv, "qa": []})
    return items


@st.composite
def broken_locomo(draw: st.DrawFn) -> Case:
    """A LoCoMo file with one thing wrong, and a fragment the error must contain."""
    data = draw(locomo_files())
    item = draw(st.sampled_from(data))
    conv = item["conversation"]
    key = draw(
        st.sampled_from(sorted(k for k in conv if k.startswith("session_") and "_d" not in k))
    )
    turn = draw(st.sampled_from(conv[key]))
    choice = draw(
        st.sampled_from(
            [
                "not a list",
                "repeat",
                "date",
                "turn type",
                "field type",
                "missing",
                "dup",
                "empty text",
                "no sessions",
                "conversation type",
                "sample_id",
            ]
        )
    )
    if choice == "not a list":
        conv[key] = draw(not_list)
        return data, f"{key!r} is a {type(conv[key]).__name__}, not a list of turns"
    if choice == "repeat":
        conv[key.replace("session_", "session_0")] = []
        return data, "repeats session number"
    if choice == "date":
        conv[f"{key}_date_time"] = draw(texts.filter(lambda t: t.strip() not in LOCOMO_DATES))
        return data, f"{key}: date "
    if choice == "turn type":
        conv[key].append(draw(not_list.filter(lambda v: not isinstance(v, dict))))
        return data, "not an object"
    if choice == "field type":
        field = draw(st.sampled_from(["speaker", "dia_id", "text", "blip_caption"]))
        turn[field] = draw(st.one_of(st.booleans(), st.lists(st.integers(), max_size=2)))
        return data, f"{field!r} is a {type(turn[field]).__name__}, not a string"
    if choice == "missing":
        field = draw(st.sampled_from(["speaker", "dia_id", "text"]))
        del turn[field]
        return data, f"lacks {field}"
    if choice == "dup":
        conv[key].append({**turn})
        return data, f"has two turns with id {turn['dia_id']}"
    if choice == "empty text":
        turn["text"] = draw(blank)
        return data, "text is empty"
    if choice == "no sessions":
        for k in [k for k in conv if k.startswith("session_")]:
            del conv[k]
        return data, "has no session_<n> list of turns"
    if choice == "conversation type":
        item["conversation"] = draw(not_list.filter(lambda v: not isinstance(v, dict)))
        return data, "'conversation' is not an object"
    item["sample_id"] = draw(st.sampled_from([None, "", " "]))
    return data, "lacks sample_id"


# -- anything at all -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | words,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(words, inner, max_size=4),
    max_leaves=12,
)
KEYS = ["conversation_id", "speakers", "sessions", "session_id", "date", "turns", "speaker", "text"]
shaped = st.recursive(
    json_values,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from([*KEYS, "id", "image_caption"]), inner, max_size=6)
        | st.dictionaries(
            st.sampled_from(["sample_id", "conversation", "session_1", "session_1_date_time"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)

# -- namespaces and turns ------------------------------------------------------------------------

ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}")
ns_parts = st.one_of(
    st.from_regex(ID_PART, fullmatch=True),
    words,
    st.sampled_from(["sam\n", "\nsam", "sam/x", "-sam", "", "x" * 129, "s\u0661m", "sam "]),
    st.integers(),
    st.none(),
)


def _has_a_word_or_is_rejected(value: Any) -> bool:
    """Leave out text that validates without a word in it (see ``turn_texts``)."""
    return not isinstance(value, str) or not value.strip() or re.search(r"\w", value) is not None


field_values = st.one_of(
    words,
    blank,
    st.none(),
    st.integers(),
    st.lists(words, max_size=2),
    st.sampled_from(["x" * 129, "\ud800", "a\udfffb", "\x00", "9999-12-31T23:59:00-05:00"]),
    st.builds(lambda n: "x" * n, st.integers(MAX_TEXT_CHARS - 20, MAX_TEXT_CHARS + 5)),
)
turn_dicts = st.fixed_dictionaries(
    {},
    optional={
        "id": field_values,
        "session_id": field_values,
        "speaker": field_values,
        "text": field_values.filter(_has_a_word_or_is_rejected),
        "image_caption": field_values,
        "session_time": st.one_of(field_values, st.datetimes().map(datetime.isoformat)),
        "index": st.one_of(st.integers(-3, 3), field_values),
    },
)


# -- text the engine finds hard ------------------------------------------------------------------

_DATES = ["yesterday", "last week", "next year", "in 3 days", "on May 8", "2 years ago"]
_FACTS = ["Sam moved to Boston", "I adopted a cat named Miso", "I'm allergic to peanuts", "."]
_ODD = ["Zebra" * 50, "ÉCOLE Über Straße", "\x00", "🙂🙂", "[red]markup[/]", "a\u2028b", "ÿ" * 300]
phrases = st.sampled_from([*_DATES, *_FACTS, *_ODD])
turn_texts = st.lists(st.one_of(phrases, words), min_size=1, max_size=6).map(" ".join)
#: Text with a word in it: the fake embedder maps text without one to a zero vector, which the
#: store rejects only after journaling the write (see test_text_without_a_word_in_it_*).
turn_texts = turn_texts.filter(lambda t: re.search(r"\w", t) is not None)


# -- export lines, then one thing broken ---------------------------------------------------------

_REQUIRED = ["id", "namespace", "granularity", "text"]
_WRONG: dict[str, Any] = {
    "granularity": "opinion",
    "kind": "gossip",
    "text": 3,
    "provenance": 7,
    "valid_from": "soon",
    "importance": 2,
    "version": 0,
    "event_time": "9999-12-31T23:30:00-01:00",
    "namespace": {"user_id": "a b"},
}


@st.composite
def broken_export(draw: st.DrawFn, lines: list[str]) -> Case:
    """An export (``lines`` of JSON) with one line broken: the bytes, and the error's fragment."""
    n = draw(st.integers(0, len(lines) - 1))
    rows, unit, at = list(lines), json.loads(lines[n]), f"line {n + 1}: "
    choice = draw(
        st.sampled_from(["json", "missing", "type", "window", "other", "twice", "bytes", "turn"])
    )
    if choice == "json":
        rows[n] = rows[n][: draw(st.integers(1, len(rows[n]) - 1))]
        return _joined(rows), at + "not a memory unit: Invalid JSON"
    if choice == "missing":
        key = draw(st.sampled_from(_REQUIRED))
        del unit[key]
        rows[n] = json.dumps(unit)
        return _joined(rows), f"{at}not a memory unit: {key}: Field required"
    if choice == "type":
        key = draw(st.sampled_from(sorted(_WRONG)))
        unit[key] = _WRONG[key]
        rows[n] = json.dumps(unit)
        return _joined(rows), f"{at}not a memory unit: {key}"
    if choice == "window":
        unit["valid_to"] = "0001-01-01T00:00:00Z"
        rows[n] = json.dumps(unit)
        return _joined(rows), at + "not a memory unit: unit "
    if choice == "other":
        unit["namespace"] = {"user_id": "eve", "agent_id": "default"}
        rows[n] = json.dumps(unit)
        return _joined(rows), f"{at}unit {unit['id']} belongs to namespace eve/default"
    if choice == "twice":
        return _joined([*rows, rows[n]]), f"line {len(rows) + 1}: unit {unit['id']} is also on"
    if choice == "bytes":
        return _joined(rows[:n]) + b"\xff" + _joined(rows[n:]), at + "not UTF-8 text"
    turn_lines = [i for i, row in enumerate(rows) if '"granularity":"turn"' in row]
    n = draw(st.sampled_from(turn_lines))
    unit = json.loads(rows[n])
    unit[draw(st.sampled_from(["provenance", "session_id", "speaker"]))] = None
    if unit["provenance"] is None:
        unit["provenance"] = []
    rows[n] = json.dumps(unit)
    return _joined(rows), f"line {n + 1}: turn unit {unit['id']} lacks its turn"


def _joined(rows: list[str]) -> bytes:
    return "".join(f"{row}\n" for row in rows).encode()
