"""The seam between the evaluation harness and any system under test.

A system sees a :class:`Conversation` (turns, speakers, session dates, image captions: nothing
else from the data file) and answers questions with a ranked list of :class:`RetrievedItem`, each
mapped to the turns it came from. Questions reach a system through :meth:`Question.for_system`,
which strips the gold evidence, the gold answer and the category.

Systems are built by name through a registry so that worker processes can rebuild them: a factory is
recorded as ``module:qualname`` and re-imported on the other side. A name may also be *announced*
with the module that registers it on import (``hypermnesia`` → ``evals.hypermnesia``); until that
module exists, the name is listed as unavailable instead of failing the run.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from memory.errors import InvalidInputError

__all__ = [
    "Conversation",
    "EvalTurn",
    "IngestStats",
    "Question",
    "RetrievalSystem",
    "RetrievedItem",
    "SystemFactory",
    "SystemSpec",
    "announce_system",
    "available_systems",
    "build_system",
    "known_systems",
    "make_system",
    "register_system",
    "system_spec",
    "unavailable_reason",
]


@dataclass(frozen=True)
class EvalTurn:
    """One turn as a system under test may see it."""

    id: str
    session_id: str
    speaker: str
    text: str
    session_time: datetime | None
    image_caption: str | None
    index: int


@dataclass(frozen=True)
class Conversation:
    """A whole conversation: turns in order and the speakers' names. Nothing else from the file."""

    id: str
    turns: list[EvalTurn]
    speakers: list[str]


@dataclass(frozen=True)
class Question:
    """A question with its gold data; systems only ever receive :meth:`for_system` copies."""

    id: str
    conversation_id: str
    text: str
    category: str
    evidence: tuple[str, ...]
    answer: str | None
    asked_at: datetime | None

    def for_system(self) -> Question:
        """This question without its gold evidence, gold answer and category."""
        return dataclasses.replace(self, category="", evidence=(), answer=None)


@dataclass(frozen=True)
class RetrievedItem:
    """One retrieved piece of text, as the system would put it in a prompt."""

    text: str
    source_turn_ids: tuple[str, ...]
    tokens: int
    score: float


@dataclass(frozen=True)
class IngestStats:
    """What ingesting one conversation cost."""

    turns: int
    seconds: float
    llm_calls: int = 0
    llm_tokens: int = 0


@runtime_checkable
class RetrievalSystem(Protocol):
    """A memory system under evaluation.

    ``ingest`` writes a conversation into ``workdir`` (a folder of its own); ``restore`` reopens a
    completed ingest from the same folder without redoing it (the harness resumes runs that way);
    ``retrieve`` returns items ranked best first and may return more than the budget.
    """

    name: str

    def ingest(self, conversation: Conversation, workdir: Path) -> IngestStats: ...

    def restore(self, conversation: Conversation, workdir: Path) -> None: ...

    def retrieve(
        self, conversation_id: str, question: Question, budget_tokens: int
    ) -> list[RetrievedItem]: ...


SystemFactory = Callable[..., RetrievalSystem]
"""Builds a system from keyword options. The runner always passes ``seed: int`` and
``cache_dir: Path`` (a folder shared by all systems of a run), plus any user options."""


@dataclass(frozen=True)
class SystemSpec:
    """A picklable recipe for a system: its name, its factory's import path and its options."""

    name: str
    factory: str
    options: dict[str, Any] = field(default_factory=dict)
    ingest_as: str | None = None
    """The system whose ingest this one reads (the same memory under another read policy)."""


_FACTORIES: dict[str, str] = {}
_INGEST_AS: dict[str, str] = {}
_ANNOUNCED: dict[str, str] = {
    "hypermnesia": "evals.hypermnesia",
    "hypermnesia-learned": "evals.hypermnesia",
    **dict.fromkeys(("full_context", "bm25", "dense", "hybrid"), "evals.baselines"),
}


def _factory_ref(factory: SystemFactory) -> str:
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise InvalidInputError(
            f"system factory {factory!r} must be a module-level function or class, so that worker "
            "processes can import it"
        )
    return f"{module}:{qualname}"


def register_system(name: str, factory: SystemFactory, *, ingest_as: str | None = None) -> None:
    """Make ``name`` buildable by :func:`make_system`; registering a name again replaces it.

    With ``ingest_as``, the system reads the ingest of that system (same factory, same memory).
    """
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise InvalidInputError(f"invalid system name {name!r}: use letters, digits, _ and -")
    _FACTORIES[name] = _factory_ref(factory)
    if ingest_as is not None:
        _INGEST_AS[name] = ingest_as
    else:
        _INGEST_AS.pop(name, None)


def announce_system(name: str, module: str) -> None:
    """Declare that importing ``module`` registers system ``name`` (imported on first use)."""
    _ANNOUNCED[name] = module


def _ensure_registered(name: str) -> str | None:
    """Import the announcing module if needed; return why ``name`` is unavailable, or None."""
    if name in _FACTORIES:
        return None
    module = _ANNOUNCED.get(name)
    if module is None:
        known = ", ".join(sorted(set(_FACTORIES) | set(_ANNOUNCED)))
        return f"unknown system {name!r} (known: {known})"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            return f"no adapter registered for {name!r} yet (module {module} does not exist)"
        return f"the adapter of {name!r} cannot be imported: {type(exc).__name__}: {exc}"
    except Exception as exc:  # a broken adapter is reported, not allowed to stop the baselines
        return f"the adapter of {name!r} cannot be imported: {type(exc).__name__}: {exc}"
    if name not in _FACTORIES:
        return f"importing {module} did not register a system named {name!r}"
    return None


def unavailable_reason(name: str) -> str | None:
    """Why ``name`` cannot be built here, or None when it can."""
    return _ensure_registered(name)


def available_systems() -> list[str]:
    """Names of the systems that can be built now, in registration order."""
    for name in list(_ANNOUNCED):
        _ensure_registered(name)
    return list(_FACTORIES)


def known_systems() -> list[str]:
    """Every name the registry knows: the registered systems and the announced ones."""
    return list(dict.fromkeys([*_FACTORIES, *_ANNOUNCED]))


def system_spec(name: str, **options: Any) -> SystemSpec:
    """The picklable recipe of a registered system."""
    reason = unavailable_reason(name)
    if reason is not None:
        raise InvalidInputError(reason)
    return SystemSpec(
        name=name, factory=_FACTORIES[name], options=dict(options), ingest_as=_INGEST_AS.get(name)
    )


def build_system(spec: SystemSpec) -> RetrievalSystem:
    """Import the spec's factory (in whatever process this runs) and call it."""
    module_name, _, qualname = spec.factory.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    system: RetrievalSystem = target(**spec.options)
    return system


def make_system(name: str, **options: Any) -> RetrievalSystem:
    """Build the registered system ``name`` with ``options``."""
    return build_system(system_spec(name, **options))
