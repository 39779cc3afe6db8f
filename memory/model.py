"""The data model: namespaces, raw turns, memory units, hypergraph vertices and edges, search hits.

A memory unit is one piece of remembered text at some granularity (a turn, a session segment, an
atomic fact, an insight, a persona profile). Its id is derived from its namespace, granularity,
normalised text and provenance, so writing the same unit twice is a no-op (replays are idempotent).

Units are bi-temporal: ``event_time`` says when the remembered thing happened, ``recorded_at`` when
it was written; ``valid_from`` / ``valid_to`` bound the period the unit was believed true. An update
closes the old unit (``valid_to`` + ``superseded_by``) and never erases it.

In the hypergraph every unit is a hyperedge over the vertices it mentions: entities and time
anchors.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from memory.errors import InvalidInputError, InvalidNamespaceError

__all__ = [
    "MAX_LABEL_CHARS",
    "MAX_TEXT_CHARS",
    "Granularity",
    "Hyperedge",
    "MemoryUnit",
    "Namespace",
    "SaidBy",
    "SearchHit",
    "Turn",
    "UnitFilter",
    "UnitKind",
    "Vertex",
    "VertexKind",
    "make_unit",
    "normalize_label",
    "unit_id",
    "utcnow",
    "vertex_id",
]

#: Longest text a unit or turn may carry (about 8k tokens); longer input is rejected, not cut.
MAX_TEXT_CHARS = 32_000
#: Longest vertex label (an entity name); a longer name is left out of the hypergraph.
MAX_LABEL_CHARS = 200
#: Characters a turn's unit adds around an image caption (``text [shares caption]``).
_CAPTION_FRAME = len(" [shares ]")

_ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInputError(
            f"date {value.isoformat()} is out of range once converted to UTC"
        ) from None


def _show(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about any input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _encodable(value: str) -> str:
    """Reject lone surrogates (JSON's ``"\\ud800"`` parses to one): no store can write them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{_show(value)} has a lone surrogate at position {exc.start}, not valid Unicode text"
        ) from None
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


def _check_text(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise InvalidInputError("text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(
            f"text is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}"
        )
    return _encodable(text)


Text = Annotated[str, AfterValidator(_check_text)]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL_CHARS)
]
TurnField = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_encodable),
]


class Granularity(StrEnum):
    """How coarse a memory unit is."""

    TURN = "turn"
    SESSION = "session"
    FACT = "fact"
    INSIGHT = "insight"
    PERSONA = "persona"


class UnitKind(StrEnum):
    """Whether a unit states what was said (evidence) or what was concluded from it (inference)."""

    EVIDENCE = "evidence"
    INFERENCE = "inference"


class SaidBy(StrEnum):
    """Who said a unit, relative to the person or thing it is about.

    ``self``: the speaker is the unit's subject (a self-report; in a chat, the user about
    themselves); ``third_party``: a person speaking about someone else; ``assistant``: the
    assistant, whoever the unit is about. In a conversation between two people each is a first
    party about themselves and a third party about the other.
    """

    SELF = "self"
    THIRD_PARTY = "third_party"
    ASSISTANT = "assistant"


class VertexKind(StrEnum):
    """Hypergraph vertices are entities or time anchors."""

    ENTITY = "entity"
    TIME = "time"


class Namespace(BaseModel):
    """The tenant scope of every read and write: one user of one agent."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    agent_id: str = "default"

    def __init__(self, **data: Any) -> None:
        """Validate like any model, but report a bad id as :class:`InvalidNamespaceError`."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, InvalidNamespaceError):
                raise cause from None
            field = ".".join(str(p) for p in first["loc"]) or "namespace"
            raise InvalidNamespaceError(
                f"invalid namespace {field} {_show(first.get('input'))}: {first['msg']}"
            ) from None

    @field_validator("user_id", "agent_id")
    @classmethod
    def _valid_part(cls, value: str) -> str:
        if not isinstance(value, str) or not _ID_PART.fullmatch(value):
            raise InvalidNamespaceError(
                f"invalid namespace part {_show(value)}: use 1-128 characters from letters, "
                "digits and _ . @ : + -, starting with a letter or digit"
            )
        return value

    @property
    def key(self) -> str:
        """A stable string form, ``user_id/agent_id``, used as a metadata value in the stores."""
        return f"{self.user_id}/{self.agent_id}"

    @classmethod
    def parse(cls, key: str) -> Namespace:
        """Inverse of :attr:`key`; a bare ``user_id`` means the default agent."""
        user, _, agent = key.partition("/")
        return cls(user_id=user, agent_id=agent or "default")

    def __str__(self) -> str:
        return self.key


class Turn(BaseModel):
    """One raw conversation turn, as it arrives. It is journaled before anything else happens."""

    model_config = ConfigDict(frozen=True)

    id: TurnField
    """Turn id, unique within the namespace (LoCoMo's ``D1:3``); provenance points at it."""
    session_id: TurnField
    speaker: TurnField
    text: Text
    session_time: AwareDatetime | None = None
    """When the session took place; relative dates in the text resolve against it."""
    image_caption: Annotated[str, AfterValidator(_encodable)] | None = None
    """A caption of an image shared in the turn, remembered with it."""
    index: int = Field(default=0, ge=0)
    """Position of the turn within its session."""
    role: Literal["user", "assistant"] | None = None
    """``assistant`` for the assistant's replies, ``user`` for a person (the namespace's user or
    anyone else); unset, the role is inferred from the speaker's name."""

    @model_validator(mode="after")
    def _check_unit_text(self) -> Self:
        """The turn's unit holds text and caption together; it must fit the text limit too,
        or the turn would be journaled and then fail to become a unit (even on recovery)."""
        if self.image_caption:
            size = len(self.text) + len(self.image_caption) + _CAPTION_FRAME
            if size > MAX_TEXT_CHARS:
                raise InvalidInputError(
                    f"text and image caption are {size} characters together; the limit is "
                    f"{MAX_TEXT_CHARS}"
                )
        return self


class MemoryUnit(BaseModel):
    """One remembered piece of text at some granularity, with provenance and validity."""

    model_config = ConfigDict(frozen=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    """Derived from content (:func:`unit_id`); the stores cannot find a unit by an empty id."""
    namespace: Namespace
    granularity: Granularity
    kind: UnitKind = UnitKind.EVIDENCE
    text: Text
    provenance: tuple[str, ...] = ()
    """Ids of the source turns this unit was built from (a turn unit points at its own turn)."""
    derived_from: tuple[str, ...] = ()
    """Ids of the units this one was derived from (insights, personas); deletes cascade along it."""
    session_id: str | None = None
    speaker: str | None = None
    said_by: SaidBy | None = None
    """Whether the speaker said this about themselves, about someone else, or is the assistant
    (unset for inferences and for units stored before it was recorded)."""
    disputes: str | None = None
    """The id of the statement this claim contradicted without the standing to replace it: kept
    as evidence, flagged, and never preferred to an unflagged statement of the same attribute."""
    event_time: AwareDatetime | None = None
    """When the remembered event happened (absolute), if known."""
    recorded_at: AwareDatetime = Field(default_factory=utcnow)
    valid_from: AwareDatetime = Field(default_factory=utcnow)
    valid_to: AwareDatetime | None = None
    superseded_by: str | None = None
    entities: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    attribute: str | None = None
    """The slot a fact sets on its first entity, ``name=value`` (``lives_in=denver``): two current
    facts setting one slot to different values conflict."""
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    access_count: int = Field(default=0, ge=0)
    last_accessed: AwareDatetime | None = None
    version: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check_validity(self) -> Self:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise InvalidInputError(f"unit {self.id}: valid_to is before valid_from")
        return self

    @property
    def is_current(self) -> bool:
        """True while the unit has not been closed by an update."""
        return self.valid_to is None

    def reopened(self) -> MemoryUnit:
        """This unit current again (its successor is gone), as a new version."""
        return self.model_copy(
            update={"valid_to": None, "superseded_by": None, "version": self.version + 1}
        )

    def closed(self, at: datetime, successor_id: str | None) -> MemoryUnit:
        """This unit with its validity window closed at ``at`` (and linked to its successor)."""
        return self.model_copy(
            update={
                "valid_to": max(_aware(at) or at, self.valid_from),
                "superseded_by": successor_id,
                "version": self.version + 1,
            }
        )


class UnitFilter(BaseModel):
    """A filter every store understands. ``None`` fields do not filter."""

    model_config = ConfigDict(frozen=True)

    granularities: frozenset[Granularity] | None = None
    kinds: frozenset[UnitKind] | None = None
    current_only: bool = False
    session_ids: frozenset[str] | None = None
    ids: frozenset[str] | None = None
    event_after: AwareDatetime | None = None
    event_before: AwareDatetime | None = None

    def matches(self, unit: MemoryUnit) -> bool:
        """Reference semantics of the filter, used by the in-memory store and by tests."""
        if self.granularities is not None and unit.granularity not in self.granularities:
            return False
        if self.kinds is not None and unit.kind not in self.kinds:
            return False
        if self.current_only and not unit.is_current:
            return False
        if self.session_ids is not None and unit.session_id not in self.session_ids:
            return False
        if self.ids is not None and unit.id not in self.ids:
            return False
        if self.event_after is not None and (
            unit.event_time is None or unit.event_time < self.event_after
        ):
            return False
        return not (
            self.event_before is not None
            and (unit.event_time is None or unit.event_time > self.event_before)
        )


class Vertex(BaseModel):
    """A hypergraph vertex: an entity or a time anchor (a day, ``2023-05-07``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    namespace: Namespace
    kind: VertexKind
    label: Label


class Hyperedge(BaseModel):
    """A memory unit seen as a hyperedge over the vertices it mentions. Its id is the unit's id."""

    model_config = ConfigDict(frozen=True)

    id: str
    namespace: Namespace
    vertices: tuple[str, ...]
    granularity: Granularity
    event_time: AwareDatetime | None = None
    current: bool = True
    weight: float = Field(default=1.0, gt=0.0)


class SearchHit(BaseModel):
    """A unit returned by a search, with its score and where the score came from."""

    model_config = ConfigDict(frozen=True)

    unit: MemoryUnit
    score: float
    source: str = "dense"
    """``dense``, ``lexical``, ``graph`` or ``fused``."""


def normalize_text(text: str) -> str:
    """Casefolded, NFKC-normalised, whitespace-collapsed text: the form ids are computed from."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def normalize_label(label: str) -> str:
    """Canonical form of a vertex label: normalised text without surrounding punctuation."""
    return normalize_text(label).strip(" .,;:!?'\"()[]{}")


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def unit_id(
    namespace: Namespace, granularity: Granularity, text: str, provenance: Iterable[str]
) -> str:
    """Deterministic unit id from namespace, granularity, normalised text and provenance."""
    return "u" + _digest(
        namespace.key, granularity.value, normalize_text(text), *sorted(set(provenance))
    )


def vertex_id(namespace: Namespace, kind: VertexKind, label: str) -> str:
    """Deterministic vertex id; the same entity named twice in one namespace is one vertex."""
    norm = normalize_label(label)
    if not norm:
        raise InvalidInputError(f"vertex label {label!r} is empty after normalisation")
    if len(label.strip()) > MAX_LABEL_CHARS:
        raise InvalidInputError(
            f"vertex label {_show(label)} is {len(label.strip())} characters long; the limit is "
            f"{MAX_LABEL_CHARS}"
        )
    return "v" + _digest(namespace.key, kind.value, norm)


def make_unit(
    namespace: Namespace,
    granularity: Granularity,
    text: str,
    *,
    provenance: Sequence[str] = (),
    **fields: Any,
) -> MemoryUnit:
    """Build a unit whose id is derived from its content and provenance."""
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, not {type(text).__name__}")
    _check_text(text)
    prov = tuple(dict.fromkeys(provenance))
    return MemoryUnit(
        id=unit_id(namespace, granularity, text, prov),
        namespace=namespace,
        granularity=granularity,
        text=text,
        provenance=prov,
        **fields,
    )
