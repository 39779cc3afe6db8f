"""A namespace's current units as the retriever reads them: names, neighbours, token counts.

The view is a snapshot kept in the store's cache of derived values: a write brings it forward by
the units it changed (:func:`update_view`), so its cost follows the size of the write, not of the
namespace, and a reader never sees a half-updated view. Each unit's presented text, token count
and words are worked out when the unit enters the view (at build, or by the write that brings
it), not by the first recall that ranks it: worked out on first use, they made the slowest
recalls. Lexical search is the store's full-text index
(:meth:`memory.store.MemoryStore.lexical_search`), not part of the view.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from agents.retrieval.present import present
from memory.model import Granularity, MemoryUnit, Namespace, Turn
from memory.store import MemoryStore
from memory.tokens import count_tokens

__all__ = ["NamespaceView", "build_view", "update_view", "view_for"]

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class NamespaceView:
    """Names, conversation order and token counts over one namespace's current units."""

    units: MappingProxyType[str, MemoryUnit]
    """Current units by id (read-only; an update copies the dict underneath, a C-speed copy)."""
    names: tuple[str, ...] = ()
    """Speakers and proper names mentioned anywhere in the namespace (for query analysis)."""
    sessions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Session id → its turn units in conversation order."""
    turn_units: Mapping[str, str] = field(default_factory=dict)
    """Source turn id → the id of its turn unit."""
    name_counts: Counter[str] = field(default_factory=Counter)
    memos: dict[str, _UnitMemo] = field(default_factory=dict)
    """Unit id → what was worked out from the unit (shared by the views of one namespace)."""

    def neighbours(self, unit_id: str) -> tuple[str, ...]:
        """The turn units just before and after a turn unit in its session."""
        unit = self.units.get(unit_id)
        if unit is None or unit.granularity != Granularity.TURN or unit.session_id is None:
            return ()
        order = self.sessions.get(unit.session_id, ())
        if unit_id not in order:
            return ()
        i = order.index(unit_id)
        return tuple(order[j] for j in (i - 1, i + 1) if 0 <= j < len(order))

    def reply_to(self, unit_id: str) -> str | None:
        """The turn unit answering a turn that ends asking a question: the next turn of the
        session, when someone else said it (None for a statement or an unanswered question)."""
        unit = self.units.get(unit_id)
        if unit is None or unit.granularity != Granularity.TURN:
            return None
        if not self.holds(unit, "ends asking", _ends_asking):
            return None
        order = self.sessions.get(unit.session_id or "", ())
        if unit_id not in order or order[-1] == unit_id:
            return None
        reply = order[order.index(unit_id) + 1]
        return reply if self.units[reply].speaker != unit.speaker else None

    def holds(self, unit: MemoryUnit, name: str, test: Callable[[str], bool]) -> bool:
        """``test(unit.text)``, memoised under ``name`` (the ranking stages ask the same of the
        same units recall after recall)."""
        flags = self._memo(unit).flags
        if name not in flags:
            flags[name] = test(unit.text)
        return flags[name]

    def words(self, unit: MemoryUnit) -> tuple[str, ...]:
        """The distinct lower-case words of the unit's text, sorted (memoised): a word starting
        with a given prefix is found by bisection."""
        memo = self._memo(unit)
        if memo.words is None:
            memo.words = tuple(sorted(set(_WORD.findall(unit.text.casefold()))))
        return memo.words

    def token_count(self, unit: MemoryUnit) -> int:
        """Tokens of the unit as presented in a prompt (memoised)."""
        memo = self._memo(unit)
        if memo.tokens is None:
            memo.tokens = count_tokens(self.presented(unit))
        return memo.tokens

    def presented(self, unit: MemoryUnit) -> str:
        """The unit as it reads in a prompt (:func:`~agents.retrieval.present.present`, memoised:
        resolving its relative dates is the costly part)."""
        memo = self._memo(unit)
        if memo.text is None:
            memo.text = present(unit)
        return memo.text

    def prepare(self, units: Iterable[MemoryUnit]) -> None:
        """Work out the presented text, its tokens and the words of these units now, as a
        write or a fresh view does, so that no recall pays for them on first use."""
        for unit in units:
            self.token_count(unit)
            self.words(unit)

    def _memo(self, unit: MemoryUnit) -> _UnitMemo:
        """The memo of this very unit object. Units are immutable, so a memo made from another
        object under the same id (an older view's unit, the unit before an update) is replaced,
        never read: a reader still on an older view cannot leave stale values for newer ones."""
        memo = self.memos.get(unit.id)
        if memo is None or memo.unit is not unit:
            memo = self.memos[unit.id] = _UnitMemo(unit)
        return memo


@dataclass
class _UnitMemo:
    """What the retriever worked out from one unit: its text as presented, that text's tokens,
    its words and the results of named tests on its text."""

    unit: MemoryUnit
    text: str | None = None
    tokens: int | None = None
    words: tuple[str, ...] | None = None
    flags: dict[str, bool] = field(default_factory=dict)


def view_for(store: MemoryStore, ns: Namespace) -> NamespaceView:
    """The view of a namespace at the store's durable version."""
    return store.derived(
        ns,
        "retrieval.view",
        lambda: build_view(store.current_units(ns), store.turns(ns)),
        update_view,
    )


def build_view(units: Mapping[str, MemoryUnit], turns: Sequence[Turn]) -> NamespaceView:
    """A view over ``units`` (current units by id), with ``turns`` giving conversation order."""
    turn_units = {_turn_id(u): u.id for u in units.values() if _is_turn(u)}
    sessions: dict[str, list[str]] = {}
    for turn in turns:
        uid = turn_units.get(turn.id)
        if uid is not None:
            sessions.setdefault(turn.session_id, []).append(uid)
    counts = Counter(name for u in units.values() for name in _names(u))
    view = NamespaceView(
        units=MappingProxyType(dict(units)),
        names=tuple(sorted(counts)),
        sessions={s: tuple(ids) for s, ids in sessions.items()},
        turn_units=turn_units,
        name_counts=counts,
    )
    view.prepare(view.units.values())
    return view


def update_view(
    old: NamespaceView, changed: Sequence[str], units: Mapping[str, MemoryUnit]
) -> NamespaceView:
    """``old`` after the units ``changed`` took their state in ``units`` (absent: deleted).

    New turn units join the end of their session, in the order of ``changed``.
    """
    current = old.units.copy()
    counts = old.name_counts.copy()
    sessions = dict(old.sessions)
    turn_units = dict(old.turn_units)
    for uid in dict.fromkeys(changed):
        before, after = current.pop(uid, None), units.get(uid)
        if after is not None and not after.is_current:
            after = None
        if before is not None:
            counts.subtract(_names(before))
            _leave_session(before, sessions, turn_units)
            old.memos.pop(uid, None)
        if after is not None:
            current[uid] = after
            counts.update(_names(after))
            _join_session(after, sessions, turn_units)
    counts = +counts  # drop names no unit mentions any more
    view = NamespaceView(
        units=MappingProxyType(current),
        names=tuple(sorted(counts)),
        sessions=sessions,
        turn_units=turn_units,
        name_counts=counts,
        memos=old.memos,
    )
    view.prepare(current[uid] for uid in dict.fromkeys(changed) if uid in current)
    return view


_TRAILING_NOTES = re.compile(r"(\s*\[[^\]]*\])+\s*$")
"""Notes after what was said, such as ``[shares a photo of a beach]``."""


def _ends_asking(text: str) -> bool:
    """Whether a turn's last sentence (trailing notes aside) is a question."""
    return _TRAILING_NOTES.sub("", text).rstrip().endswith("?")


def _names(unit: MemoryUnit) -> Iterable[str]:
    found = {e for e in unit.entities if e[:1].isupper()}
    if unit.speaker:
        found.add(unit.speaker)
    return found


def _is_turn(unit: MemoryUnit) -> bool:
    return unit.granularity == Granularity.TURN and bool(unit.provenance)


def _turn_id(unit: MemoryUnit) -> str:
    return unit.provenance[0]


def _leave_session(
    unit: MemoryUnit, sessions: dict[str, tuple[str, ...]], turn_units: dict[str, str]
) -> None:
    if not _is_turn(unit):
        return
    turn_units.pop(_turn_id(unit), None)
    if unit.session_id in sessions:
        sessions[unit.session_id] = tuple(i for i in sessions[unit.session_id] if i != unit.id)


def _join_session(
    unit: MemoryUnit, sessions: dict[str, tuple[str, ...]], turn_units: dict[str, str]
) -> None:
    if not _is_turn(unit) or unit.session_id is None:
        return
    turn_units[_turn_id(unit)] = unit.id
    order = sessions.get(unit.session_id, ())
    if unit.id not in order:
        sessions[unit.session_id] = (*order, unit.id)
