"""Shared fixtures: offline environment, a fast discriminative embedder, stores in temp dirs, and
the servers of the scaled deployment (PostgreSQL, Chroma), each started on first use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

if TYPE_CHECKING:
    from memory.embeddings import HashingEmbedder
    from memory.settings import Settings
    from memory.store import MemoryStore
    from tests.chroma_server import ChromaServer
    from tests.pg_server import PostgresServer
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

    def factory(
        backend: str = "chroma", sub: str = "data", settings: Settings | None = None
    ) -> MemoryStore:
        store = MemoryStore.open(
            tmp_path / sub,
            embedder=fake_embedder,
            backend=backend,  # type: ignore[arg-type]
            settings=settings,
        )
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


@pytest.fixture(scope="session")
def pg_keyed_service(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    chroma_server: ChromaServer,
) -> Iterator[Service]:
    """The same service as ``keyed_service``, two workers on PostgreSQL and a Chroma server."""
    from tests.service_server import running_service

    env = {
        "HYPERMNESIA_DATABASE_URL": postgres_server.new_database(),
        "HYPERMNESIA_CHROMA_HOST": chroma_server.host,
        "HYPERMNESIA_CHROMA_PORT": str(chroma_server.port),
        "HYPERMNESIA_CHROMA_COLLECTION": "keyed-service",
    }
    users = ["alice", "bob", "carol", "dave"]
    folder = tmp_path_factory.mktemp("pg-service")
    with running_service(folder, users, workers=2, env=env) as svc:
        yield svc


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the whole session (started on first use)."""
    from tests.pg_server import running_postgres

    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database of the session's server; dropped after the test."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One Chroma server (``chroma run``) for the whole session (started on first use)."""
    from tests.chroma_server import running_chroma_server

    with running_chroma_server(tmp_path_factory.mktemp("chroma-server")) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest) -> Settings:
    """The stores a test runs on: SQLite files beside embedded Chroma (the default), or a fresh
    PostgreSQL database beside a collection of its own on a Chroma server (the scaled one)."""
    from memory.settings import Settings

    if request.param == "sqlite":
        return Settings(embedder="fake", llm_model=None)
    chroma: ChromaServer = request.getfixturevalue("chroma_server")
    return Settings(
        embedder="fake",
        llm_model=None,
        database_url=request.getfixturevalue("pg_url"),
        chroma_host=chroma.host,
        chroma_port=chroma.port,
        chroma_collection=f"test-{uuid.uuid4().hex[:16]}",
    )


def deployment_env(settings: Settings) -> dict[str, str]:
    """The ``HYPERMNESIA_*`` variables that give a child process the stores of ``settings``."""
    env = {"HYPERMNESIA_EMBEDDER": settings.embedder}
    if settings.database_url:
        env["HYPERMNESIA_DATABASE_URL"] = settings.database_url
    if settings.chroma_host:
        env["HYPERMNESIA_CHROMA_HOST"] = settings.chroma_host
        env["HYPERMNESIA_CHROMA_PORT"] = str(settings.chroma_port)
        env["HYPERMNESIA_CHROMA_COLLECTION"] = settings.chroma_collection
    return env
