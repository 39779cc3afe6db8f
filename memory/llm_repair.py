"""Turning model text into a validated pydantic instance, repairing it only as a last resort.

The order matters: the text is first validated as it is (a provider's JSON mode usually makes it
exact). Only when that fails is it repaired: code fences are stripped, the outermost JSON value is
cut out of any surrounding prose, and what is left goes through the ``json-repair`` library
(trailing commas, single quotes, unquoted keys, a truncated tail). Two shape slips that small
models make are also forgiven: the bare list for a schema that has one list field, and the object
wrapped in one extra key (``{"FactList": {...}}``).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

from memory.errors import LLMOutputError

__all__ = ["extract_json", "parse_structured", "strip_code_fences"]

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_MAX_ERROR_CHARS = 600


def strip_code_fences(text: str) -> str:
    """The content of the first Markdown code fence in ``text``, or ``text`` unchanged."""
    match = _FENCE.search(text)
    return match.group(1).strip() if match else text.strip()


def _outermost(text: str) -> str:
    """From the first ``{`` or ``[`` to the last matching closer (or the end, if it was cut off)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text
    start = min(starts)
    closer = "}" if text[start] == "{" else "]"
    end = text.rfind(closer)
    return text[start : end + 1] if end > start else text[start:]


def extract_json(text: str) -> Any:
    """The JSON value in ``text``, repaired if needed; ``None`` when there is none at all."""
    candidate = _outermost(strip_code_fences(text))
    if not candidate:
        return None
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    repaired = json_repair.repair_json(candidate, return_objects=True)
    if repaired == "" or (isinstance(repaired, str) and not candidate.lstrip().startswith('"')):
        return None  # json-repair answers "" (or a bare string) for text with no JSON in it
    return repaired


def _list_fields(schema: type[BaseModel]) -> list[str]:
    props = schema.model_json_schema().get("properties", {})
    return [name for name, spec in props.items() if spec.get("type") == "array"]


def _shape_candidates(value: Any, schema: type[BaseModel]) -> list[Any]:
    """``value`` itself, then the forgiving reshapes of it, in that order."""
    candidates = [value]
    if isinstance(value, list):
        fields = _list_fields(schema)
        if len(fields) == 1:
            candidates.append({fields[0]: value})
    elif isinstance(value, dict) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, dict) and next(iter(value)) not in schema.model_fields:
            candidates.append(inner)
    return candidates


def _short(error: ValidationError) -> str:
    """The validation errors on one line: ``facts.0.subject: Field required; …``."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
    ]
    text = "; ".join(parts)
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "…"


def parse_structured(text: str, schema: type[T]) -> T:
    """``text`` validated into ``schema``: as is first, repaired if that fails.

    Raises :class:`LLMOutputError` naming the schema and the validation error when no reading of
    the text validates.
    """
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        first_error: ValidationError = exc
    value = extract_json(text)
    if value is None:
        raise LLMOutputError(f"{schema.__name__}: the reply holds no JSON value: {text[:200]!r}")
    last_error: ValidationError = first_error
    for candidate in _shape_candidates(value, schema):
        try:
            return schema.model_validate(candidate)
        except ValidationError as exc:
            last_error = exc
    raise LLMOutputError(
        f"{schema.__name__}: the reply does not match the schema: {_short(last_error)}"
    )
