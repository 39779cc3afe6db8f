"""Freezing the survivors of full collections while an engine is open: full collections skip what
was alive before, new garbage cycles are still collected, old ones wait for a sweep, and closing
the last engine unfreezes."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphs import long_lived
from graphs.client import Hypermnesia
from memory.settings import Settings


class _Node:
    """A cycle (it points at itself), so only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def held() -> Iterator[None]:
    assert long_lived._holders == 0, "an engine of another test is still open"
    long_lived.hold()
    try:
        yield
    finally:
        long_lived.release()


def test_full_collections_freeze_what_survives(held: None) -> None:
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # the interpreter's own objects, at least
    survivor = [_Node() for _ in range(500)]
    gc.collect()
    assert gc.get_freeze_count() >= frozen + 500
    assert survivor  # alive until here


def test_a_cycle_made_after_a_freeze_is_still_collected(held: None) -> None:
    gc.collect()
    cycle = weakref.ref(_Node())
    assert cycle() is not None
    gc.collect()
    assert cycle() is None


def test_a_frozen_cycle_waits_for_the_sweep(held: None) -> None:
    node = _Node()
    cycle = weakref.ref(node)
    gc.collect()  # node survives and is frozen
    del node
    collections = 0
    while cycle() is not None:
        gc.collect()
        collections += 1
        assert collections <= long_lived.SWEEP_EVERY, "a sweep should have freed the cycle"
    assert collections >= 1


def test_engines_hold_until_the_last_one_closes(tmp_path: Path) -> None:
    assert long_lived._holders == 0, "an engine of another test is still open"
    settings = Settings(data_dir=tmp_path, llm_model=None, embedder="fake")
    first = Hypermnesia.open(tmp_path / "a", settings=settings)
    second = Hypermnesia.open(tmp_path / "b", settings=settings)
    try:
        gc.collect()
        assert gc.get_freeze_count() > 0
        first.close()
        first.close()  # closing twice releases once
        gc.collect()
        assert gc.get_freeze_count() > 0
    finally:
        second.close()
    assert long_lived._holders == 0
    assert gc.get_freeze_count() == 0
