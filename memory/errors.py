"""The error tree of Hypermnesia.

Every error the package raises on purpose derives from :class:`HypermnesiaError`, and also from the
builtin it means, so callers can catch either::

    HypermnesiaError
    ├── InvalidInputError (ValueError)          bad text, ids, shapes, arguments
    │   └── InvalidNamespaceError               a malformed user or agent id
    ├── UnitNotFoundError (LookupError)         an id that is not in this namespace
    ├── StoreCorruptError (RuntimeError)        a data directory that cannot be read back
    │   └── VectorIndexError                    an embedded Chroma index Chroma cannot read
    ├── StoreUnavailableError (ConnectionError) a configured server that does not answer
    │   └── DataFolderInUseError                another process holds the embedded stores
    ├── EmbeddingError (RuntimeError)           the embedding model failed or is missing
    └── LLMError (RuntimeError)                 a model call that failed for good
        ├── LLMTimeoutError (TimeoutError)
        └── LLMOutputError (ValueError)         output that never parsed into the schema
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memory.llm_records import LLMCall

__all__ = [
    "DataFolderInUseError",
    "EmbeddingError",
    "HypermnesiaError",
    "InvalidInputError",
    "InvalidNamespaceError",
    "LLMError",
    "LLMOutputError",
    "LLMTimeoutError",
    "StoreCorruptError",
    "StoreUnavailableError",
    "UnitNotFoundError",
    "VectorIndexError",
]


class HypermnesiaError(Exception):
    """Base class of every error raised on purpose by Hypermnesia."""


class InvalidInputError(HypermnesiaError, ValueError):
    """An argument was rejected before anything was written."""


class InvalidNamespaceError(InvalidInputError):
    """A user id or agent id that cannot name a namespace."""


class UnitNotFoundError(HypermnesiaError, LookupError):
    """A memory unit id that does not exist in the namespace asked."""

    def __str__(self) -> str:  # LookupError would quote the message like a dict key
        return str(self.args[0]) if self.args else "unit not found"


class StoreCorruptError(HypermnesiaError, RuntimeError):
    """A data directory whose files cannot be read back."""


class VectorIndexError(StoreCorruptError):
    """Embedded Chroma failed inside its own index (a torn HNSW file after a crash, say).

    The store rebuilds such an index from the journal (see :mod:`memory.vector_rebuild`).
    """


class StoreUnavailableError(HypermnesiaError, ConnectionError):
    """A configured store server that does not answer."""


class DataFolderInUseError(StoreUnavailableError):
    """The data folder's embedded Chroma is open in another process (it allows only one)."""


class EmbeddingError(HypermnesiaError, RuntimeError):
    """The embedding model is missing or failed."""


class LLMError(HypermnesiaError, RuntimeError):
    """A model call that failed after its retries."""

    call: LLMCall | None = None
    """The failed call's record (attempts, tokens, latency, raw text), for the trace."""


class LLMTimeoutError(LLMError, TimeoutError):
    """A model call that timed out on every attempt."""


class LLMOutputError(LLMError, ValueError):
    """Model output that could not be parsed into the requested schema, even after repair."""
