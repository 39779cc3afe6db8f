"""The query's topic: the query without the names common in the namespace.

In a personal memory nearly every unit is about the same few people: the user and the assistant,
or the two friends of a chat. A short question such as "What books has Tim read?" spends much of
its embedding on "Tim", who is in half the namespace, and little on "books", so a turn about a
novel Tim finished can rank below turns that merely mention Tim. The ``topic`` source searches
the dense index a second time with :func:`topic_text` ("What books has read?") and joins the
fusion beside the ``dense`` source, which keeps the whole question: who is asked about still
counts, and what the question is about gets its own ranking. Names rare in the namespace (a pet,
a town) stay: they are what the question is about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agents.retrieval.view import NamespaceView

__all__ = ["COMMON_NAME_SHARE", "common_names", "topic_text", "without_names"]

COMMON_NAME_SHARE = 0.1
"""A name mentioned (or spoken) by at least this share of the current units is common."""


def common_names(view: NamespaceView, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that at least :data:`COMMON_NAME_SHARE` of the view's units mention."""
    floor = COMMON_NAME_SHARE * max(1, len(view.units))
    return [n for n in names if view.name_counts.get(n, 0) >= floor]


def without_names(text: str, names: Iterable[str]) -> str:
    """``text`` with each of ``names`` (whole words, any case, possessive too) removed."""
    for name in sorted(set(names), key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}(?:['’]s)?\b", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def topic_text(view: NamespaceView, text: str, names: Iterable[str]) -> str | None:
    """``text`` without the common ones of ``names``; None when that removes nothing or all."""
    topic = without_names(text, common_names(view, names))
    return topic if topic and topic != " ".join(text.split()) else None
