"""Token counting, offline.

Budgets are measured in cl100k tokens. tiktoken downloads its encodings on first use, which fails
without internet; litellm ships the files, so ``TIKTOKEN_CACHE_DIR`` is pointed at its copy before
tiktoken is asked for an encoding.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path
from typing import Protocol

__all__ = ["count_tokens", "truncate_to_tokens"]


class _Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: tuple[str, ...] = ()) -> list[int]: ...
    def decode(self, tokens: list[int]) -> str: ...


def _litellm_tokenizer_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


@cache
def _encoding() -> _Encoding:
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        folder = _litellm_tokenizer_dir()
        if folder is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    import tiktoken

    enc: _Encoding = tiktoken.get_encoding("cl100k_base")
    return enc


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text``."""
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """``text`` cut to at most ``max_tokens`` cl100k tokens."""
    tokens = _encoding().encode(text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return text
    return _encoding().decode(tokens[: max(0, max_tokens)])
