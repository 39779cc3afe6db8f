"""A Chroma server read that meets a vector segment not yet on its disk is retried; any other
server error is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chromadb.errors import InternalError

from memory.embeddings import HashingEmbedder
from memory.model import Namespace
from memory.vector_store import ChromaBackend

NS = Namespace(user_id="sam")


class _Flaky:
    """A collection whose ``get`` raises ``error`` ``times`` times, then answers."""

    def __init__(self, inner: Any, error: Exception, times: int) -> None:
        self._inner, self._error, self.left = inner, error, times

    def get(self, **kwargs: Any) -> Any:
        if self.left:
            self.left -= 1
            raise self._error
        return self._inner.get(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_segment_not_yet_on_disk_is_read_again(tmp_path: Path) -> None:
    backend = ChromaBackend.persistent(tmp_path / "chroma", HashingEmbedder())
    not_yet = InternalError("Error creating hnsw segment reader: Nothing found on disk")
    flaky = _Flaky(backend._collection, not_yet, times=2)
    backend._collection = flaky
    assert backend.get(NS) == []
    assert flaky.left == 0
    backend._collection = _Flaky(flaky._inner, InternalError("something else"), times=1)
    with pytest.raises(Exception, match="something else"):
        backend.get(NS)
    backend.close()
