"""Versioned prompts, one module per LLM step, each beside its pydantic output model.

Usage::

    from prompts import get_prompt

    prompt = get_prompt("judge.sufficiency")  # the latest version
    verdict, call, fallback_reason = prompt.run(client, question, hits, fallback=deterministic)
"""

from __future__ import annotations

from prompts.answer import AnswerOut
from prompts.constructor import ExtractedFact, FactList
from prompts.judge import SufficiencyVerdict, WriteVerdict
from prompts.reflector import Insight, PersonaProfile
from prompts.registry import Prompt, PromptRef, all_prompts, get_prompt, schema_shape
from prompts.retriever import QueryAnalysis

__all__ = [
    "AnswerOut",
    "ExtractedFact",
    "FactList",
    "Insight",
    "PersonaProfile",
    "Prompt",
    "PromptRef",
    "QueryAnalysis",
    "SufficiencyVerdict",
    "WriteVerdict",
    "all_prompts",
    "get_prompt",
    "schema_shape",
]
