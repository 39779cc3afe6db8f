"""Shared fixtures: offline environment, a fast discriminative embedder, stores in temp dirs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

if TYPE_CHECKING:
    from memory.embeddings import HashingEmbedder
    from memory.store import MemoryStore
    from tests.service_server import Service

StoreFactory = Callable[..., "MemoryStore"]


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    from memory.embeddings import HashingEmbedder

    return HashingEmbedder()


@pytest.fixture
def open_store(tmp_path: Path, fake_embedder: HashingEmbedder) -> Iterator[StoreFactory]:
    """Opens stores under tmp_path with the fake embedder; closes them at teardown."""
    from memory.store import MemoryStore

    opened: list[MemoryStore] = []

    def factory(backend: str = "chroma", sub: str = "data") -> MemoryStore:
        store = MemoryStore.open(tmp_path / sub, embedder=fake_embedder, backend=backend)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def keyed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One ``app.py serve`` with API keys for alice, bob, carol and dave, for the whole session."""
    from tests.service_server import running_service

    users = ["alice", "bob", "carol", "dave"]
    with running_service(tmp_path_factory.mktemp("service"), users) as svc:
        yield svc
