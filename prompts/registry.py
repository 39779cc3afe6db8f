"""The prompt registry: every LLM step's versioned prompt function beside its output model.

A prompt is looked up by name (``judge.sufficiency``) and optionally a version (``v1``; the latest
by default). Traces record the :class:`~memory.llm.PromptRef` that ran, so a change of wording is a
new version, never an edit in place.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from memory.errors import InvalidInputError
from memory.llm import LLMCall, LLMClient, PromptRef, structured_or_fallback
from memory.model import MemoryUnit, SearchHit

__all__ = [
    "EvidenceItem",
    "Messages",
    "Prompt",
    "PromptRef",
    "all_prompts",
    "evidence_lines",
    "get_prompt",
    "iso_day",
    "register",
    "require_text",
    "schema_shape",
    "system_prompt",
]

T = TypeVar("T", bound=BaseModel)
Messages = list[dict[str, str]]
EvidenceItem = tuple[str, str] | MemoryUnit | SearchHit
"""Evidence as ``(id, text)``, or a unit or search hit (its date is shown too)."""

_MODULES = ("constructor", "judge", "retriever", "reflector", "answer")
_VERSION = re.compile(r"^v(\d+)$")
_REGISTRY: dict[str, dict[str, Prompt[Any]]] = {}


@dataclass(frozen=True)
class Prompt(Generic[T]):
    """One versioned prompt: its reference, its output model and the function building messages."""

    ref: PromptRef
    output: type[T]
    build: Callable[..., Messages]

    def messages(self, *args: Any, **kwargs: Any) -> Messages:
        """The chat messages for these inputs."""
        return self.build(*args, **kwargs)

    def run(
        self, client: LLMClient | None, *args: Any, fallback: Callable[[], T], **kwargs: Any
    ) -> tuple[T, LLMCall | None, str | None]:
        """The step through ``client``, or ``fallback()`` loudly (``structured_or_fallback``)."""
        if client is None:
            return fallback(), None, None
        messages = self.build(*args, **kwargs)
        return structured_or_fallback(
            client, messages, self.output, prompt=self.ref, fallback=fallback
        )


def _version_number(version: str) -> int:
    match = _VERSION.match(version)
    if match is None:
        raise InvalidInputError(f"prompt version must look like 'v1', got {version!r}")
    return int(match.group(1))


def register(name: str, version: str, output: type[T], build: Callable[..., Messages]) -> Prompt[T]:
    """Add a prompt to the registry; a name and version can be registered only once."""
    _version_number(version)
    versions = _REGISTRY.setdefault(name, {})
    if version in versions:
        raise InvalidInputError(f"prompt {name}@{version} is already registered")
    prompt = Prompt(PromptRef(name, version), output, build)
    versions[version] = prompt
    return prompt


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(f"prompts.{module}")


def get_prompt(name: str, version: str | None = None) -> Prompt[Any]:
    """The prompt ``name`` at ``version`` (the highest version when ``None``)."""
    _load_all()
    versions = _REGISTRY.get(name)
    if not versions:
        known = ", ".join(sorted(_REGISTRY))
        raise InvalidInputError(f"no prompt named {name!r}; known: {known}")
    if version is None:
        version = max(versions, key=_version_number)
    if version not in versions:
        raise InvalidInputError(f"prompt {name!r} has no version {version!r}: {sorted(versions)}")
    return versions[version]


def all_prompts() -> list[Prompt[Any]]:
    """Every registered prompt, by name then version."""
    _load_all()
    return [
        versions[v]
        for name, versions in sorted(_REGISTRY.items())
        for v in sorted(versions, key=_version_number)
    ]


# -- helpers the prompt modules share ------------------------------------------------------------


def _shape(spec: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in spec:
        return _shape(defs[spec["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in spec:
        return "|".join(_shape(option, defs) for option in spec["anyOf"])
    if "enum" in spec:
        return "|".join(json.dumps(v) for v in spec["enum"])
    if "const" in spec:
        return json.dumps(spec["const"])
    kind = spec.get("type")
    if kind == "object":
        fields = (f"{json.dumps(k)}: {_shape(v, defs)}" for k, v in spec["properties"].items())
        return "{" + ", ".join(fields) + "}"
    if kind == "array":
        return f"[{_shape(spec.get('items', {}), defs)}, ...]"
    if kind == "boolean":
        return "true|false"
    if kind in ("number", "integer"):
        low, high = spec.get("minimum"), spec.get("maximum")
        return f"{kind} {low:g}..{high:g}" if low is not None and high is not None else kind
    return str(kind or "string")


def schema_shape(model: type[BaseModel]) -> str:
    """A compact picture of ``model``'s JSON: field names quoted, type names in place of values."""
    schema = model.model_json_schema()
    return _shape(schema, schema.get("$defs", {}))


def system_prompt(task: str, output: type[BaseModel]) -> str:
    """The system message: the task in a few lines, then the exact JSON shape to answer in."""
    return f"{task.strip()}\nAnswer with only a JSON object of this shape:\n{schema_shape(output)}"


def iso_day(value: date | datetime | str) -> str:
    """``value`` as ``YYYY-MM-DD``; strings must already start with an ISO date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError as exc:
        raise InvalidInputError(f"expected an ISO date (YYYY-MM-DD...), got {value!r}") from exc


def _item(item: EvidenceItem) -> tuple[str, str, str | None]:
    unit = item.unit if isinstance(item, SearchHit) else item
    if isinstance(unit, MemoryUnit):
        day = unit.event_time.date().isoformat() if unit.event_time is not None else None
        return unit.id, unit.text, day
    if isinstance(unit, tuple) and len(unit) == 2 and all(isinstance(x, str) for x in unit):
        return unit[0], unit[1], None
    raise InvalidInputError(f"evidence must be (id, text), a MemoryUnit or a SearchHit: {item!r}")


def evidence_lines(items: Sequence[EvidenceItem]) -> str:
    """Numbered evidence, one per line: ``[1] id=u1 (2023-05-07) text``."""
    lines = []
    for n, item in enumerate(items, start=1):
        unit_id, text, day = _item(item)
        when = f" ({day})" if day else ""
        lines.append(f"[{n}] id={unit_id}{when} {' '.join(text.split())}")
    return "\n".join(lines)


def require_text(name: str, value: str) -> str:
    """``value`` stripped; an empty one is rejected, naming the argument."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be non-empty text, got {value!r}")
    return value.strip()
