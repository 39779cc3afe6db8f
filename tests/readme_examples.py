"""The README's examples, read from the README itself so a test runs exactly what a reader copies.

Each example is the fenced block right after an ``<!-- example: NAME -->`` line.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["readme_example"]

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example(name: str) -> str:
    """The code of the README example ``name``."""
    text = README.read_text(encoding="utf-8")
    pattern = rf"<!-- example: {re.escape(name)} -->\s*```[a-z]*\n(.*?)```"
    found = re.search(pattern, text, re.DOTALL)
    if found is None:
        raise LookupError(f"no example {name!r} in {README}")
    return found.group(1)
