"""Fuzzing the conversation-file loaders: a valid file loads, a file with one thing broken gets
one error naming the file and the problem, and no input at all escapes as another exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memory.conversations import load_conversation_file
from memory.errors import InvalidInputError

from .fuzz_strategies import (
    FUZZ,
    Case,
    broken_locomo,
    broken_native,
    json_values,
    locomo_files,
    native_files,
    shaped,
)


def write(tmp: Path, content: Any) -> Path:
    path = tmp / "conv.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return path


def one_clear_error(path: Path, fragment: str) -> str:
    """The loader's error: a project error, on one line, naming the file and the problem."""
    with pytest.raises(InvalidInputError) as info:
        load_conversation_file(path)
    message = str(info.value)
    assert str(path) in message and fragment in message, message
    assert "\n" not in message and len(message) < 600, message
    return message


@FUZZ
@given(native_files())
def test_valid_native_files_load(tmp_path: Path, data: dict[str, Any]) -> None:
    (conv,) = load_conversation_file(write(tmp_path, data))
    assert conv.turn_count == sum(len(s["turns"]) for s in data["sessions"])


@FUZZ
@given(broken_native())
def test_broken_native_files_get_one_error_naming_the_problem(tmp_path: Path, case: Case) -> None:
    content, fragment = case
    one_clear_error(write(tmp_path, content), fragment)


@FUZZ
@given(locomo_files())
def test_valid_locomo_files_load(tmp_path: Path, data: list[dict[str, Any]]) -> None:
    conversations = load_conversation_file(write(tmp_path, data))
    assert [c.conversation_id for c in conversations] == [d["sample_id"].strip() for d in data]


@FUZZ
@given(broken_locomo())
def test_broken_locomo_files_get_one_error_naming_the_problem(tmp_path: Path, case: Case) -> None:
    content, fragment = case
    assert one_clear_error(write(tmp_path, content), fragment).startswith("not a LoCoMo file")


@FUZZ
@given(st.one_of(json_values, shaped, st.binary(max_size=200)))
def test_any_file_loads_or_gets_a_project_error(tmp_path: Path, content: Any) -> None:
    path = write(tmp_path, content)
    try:
        conversations = load_conversation_file(path)
    except InvalidInputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert all(c.turn_count > 0 for c in conversations)
