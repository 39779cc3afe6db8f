"""Two evidence lists side by side: what a replayed read added, dropped or moved.

Among the units both lists hold, those that keep their order relative to one another (the
matching blocks :mod:`difflib` finds between the two orders) are *kept*; the others *moved*. So a
unit that only slid down because another was added above it has not moved, and one unit jumping to
the top moves alone; every row still reports the unit's 1-based rank in each list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from typing import Any, Literal

from memory.errors import InvalidInputError

__all__ = ["Change", "DiffRow", "EvidenceDiff", "diff_evidence"]

Change = Literal["added", "dropped", "moved", "kept"]


@dataclass(frozen=True)
class DiffRow:
    """One unit of either list: what happened to it and its 1-based rank in each list."""

    unit_id: str
    change: Change
    before: int | None
    after: int | None

    @property
    def shift(self) -> int | None:
        """Places gained (positive: higher up after), for a unit in both lists."""
        if self.before is None or self.after is None:
            return None
        return self.before - self.after


@dataclass(frozen=True)
class EvidenceDiff:
    """Every unit of both lists: the new list's order first, then what it dropped."""

    rows: tuple[DiffRow, ...]

    def of(self, change: Change) -> list[DiffRow]:
        return [r for r in self.rows if r.change == change]

    @property
    def unchanged(self) -> bool:
        return all(r.change == "kept" for r in self.rows)

    def counts(self) -> dict[str, int]:
        return {c: len(self.of(c)) for c in ("added", "dropped", "moved", "kept")}

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "rows": [asdict(r) for r in self.rows]}


def diff_evidence(before: Sequence[str], after: Sequence[str]) -> EvidenceDiff:
    """The diff of two evidence lists of unit ids, best first (each id at most once per list)."""
    rank_before = _ranks(before, "before")
    rank_after = _ranks(after, "after")
    in_order = _in_order(
        [u for u in before if u in rank_after], [u for u in after if u in rank_before]
    )
    rows: list[DiffRow] = []
    for uid in after:
        if uid not in rank_before:
            rows.append(DiffRow(uid, "added", None, rank_after[uid]))
            continue
        change: Change = "kept" if uid in in_order else "moved"
        rows.append(DiffRow(uid, change, rank_before[uid], rank_after[uid]))
    rows += [DiffRow(u, "dropped", rank_before[u], None) for u in before if u not in rank_after]
    return EvidenceDiff(tuple(rows))


def _in_order(first: list[str], second: list[str]) -> set[str]:
    """The shared units that keep their relative order (difflib's matching blocks)."""
    matcher = SequenceMatcher(None, first, second, autojunk=False)
    return {
        u for block in matcher.get_matching_blocks() for u in first[block.a : block.a + block.size]
    }


def _ranks(ids: Sequence[str], which: str) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for rank, uid in enumerate(ids, start=1):
        if uid in ranks:
            raise InvalidInputError(f"unit {uid!r} is listed twice in the {which} evidence")
        ranks[uid] = rank
    return ranks
