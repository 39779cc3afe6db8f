"""The memory layer: data model, stores, embeddings, the LLM seam and the dense-index facade.

Import the pieces from their modules (``memory.store.MemoryStore``, ``memory.model.MemoryUnit``…);
this package re-exports the names most callers need.
"""

from __future__ import annotations

from memory.errors import (
    EmbeddingError,
    HypermnesiaError,
    InvalidInputError,
    InvalidNamespaceError,
    LLMError,
    LLMOutputError,
    LLMTimeoutError,
    StoreCorruptError,
    StoreUnavailableError,
    UnitNotFoundError,
)
from memory.model import (
    Granularity,
    Hyperedge,
    MemoryUnit,
    Namespace,
    SearchHit,
    Turn,
    UnitFilter,
    UnitKind,
    Vertex,
    VertexKind,
    make_unit,
)
from memory.settings import Settings

__all__ = [
    "EmbeddingError",
    "Granularity",
    "Hyperedge",
    "HypermnesiaError",
    "InvalidInputError",
    "InvalidNamespaceError",
    "LLMError",
    "LLMOutputError",
    "LLMTimeoutError",
    "MemoryUnit",
    "Namespace",
    "SearchHit",
    "Settings",
    "StoreCorruptError",
    "StoreUnavailableError",
    "Turn",
    "UnitFilter",
    "UnitKind",
    "UnitNotFoundError",
    "Vertex",
    "VertexKind",
    "make_unit",
]
