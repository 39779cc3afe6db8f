"""Process-wide settings, read from ``HYPERMNESIA_*`` environment variables.

Run-scoped choices (which user, which model for this run, budgets) belong to the graphs' run
context, not here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Where data lives and which servers and models to use."""

    model_config = SettingsConfigDict(env_prefix="HYPERMNESIA_", extra="ignore")

    data_dir: Path = Field(default=Path(".hypermnesia"))
    """Root of the embedded stores (Chroma, SQLite files, native index snapshots)."""
    chroma_host: str | None = None
    """A Chroma server to use instead of the embedded one (``chroma run``)."""
    chroma_port: int = 8000
    chroma_collection: str = Field(default="hypermnesia_units", min_length=3, max_length=63)
    """The Chroma collection that holds every namespace's units (one per deployment)."""
    database_url: str | None = None
    """``postgresql://user:password@host:port/dbname``: the journal, hypergraph, traces and
    checkpoints in PostgreSQL, shared by every worker; unset means SQLite files in ``data_dir``."""
    database_pool_size: int = Field(default=8, ge=1, le=256)
    """Connections one process keeps open to PostgreSQL at most (besides its lease)."""
    adopt_every_s: float = Field(default=30.0, gt=0, le=3600)
    """With PostgreSQL: how often a running engine takes over the unfinished writes of workers
    that are gone (besides when it opens)."""
    embedder: str = "minilm"
    """``minilm`` (local int8 ONNX, the default), ``fake`` (tests) or ``litellm:<provider/model>``.
    """
    embed_batch_size: int = Field(default=64, ge=1, le=4096)
    """Texts per embedding request (litellm); the most windows in one local MiniLM run."""
    embed_batch_pieces: int = Field(default=1024, ge=256, le=1 << 20)
    """Padded word pieces in one local MiniLM run: the batch budget that keeps padding small."""
    llm_model: str | None = None
    """A litellm ``provider/model`` string; unset means the deterministic agents."""
    llm_api_base: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
