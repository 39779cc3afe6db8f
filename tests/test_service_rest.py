"""The service's rules, checked in process (FastAPI's test client over the real app and engine):
keys files, who a request is, what a rejected request leaves behind, local mode, error statuses."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from graphs.aio import AsyncHypermnesia
from graphs.client import Hypermnesia
from graphs.service import create_app
from graphs.service.auth import KEY_COOKIE, KeyRing, key_digest, keyring_from_env
from memory.embeddings import HashingEmbedder
from memory.errors import InvalidInputError, StoreUnavailableError
from memory.model import Namespace

SAM = {"Authorization": "Bearer sam-key"}
TURNS = {"turns": [{"speaker": "Sam", "text": "I adopted a beagle named Biscuit."}]}


def _engine(tmp_path: Path) -> Hypermnesia:
    return Hypermnesia.open(tmp_path / "data", embedder=HashingEmbedder(), llm=None)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Hypermnesia]:
    hm = _engine(tmp_path)
    yield hm
    hm.close()


@pytest.fixture
def keyed(engine: Hypermnesia) -> Iterator[TestClient]:
    keys = KeyRing(
        {
            key_digest("sam-key"): Namespace(user_id="sam"),
            key_digest("max-key"): Namespace(user_id="max", agent_id="bot"),
        }
    )
    with TestClient(create_app(AsyncHypermnesia(engine), keys=keys)) as client:
        yield client


@pytest.fixture
def local(engine: Hypermnesia) -> Iterator[TestClient]:
    with TestClient(create_app(AsyncHypermnesia(engine))) as client:
        yield client


# -- keys files ----------------------------------------------------------------------------------


def test_a_keys_file_maps_keys_to_namespaces(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(
        f"# comment\n\nplain-key sam\nsha256:{key_digest('hidden-key').upper()} max bot  # x\n"
    )
    ring = KeyRing.load(path)
    assert ring.tenant("plain-key") == Namespace(user_id="sam")
    assert ring.tenant("hidden-key") == Namespace(user_id="max", agent_id="bot")
    assert ring.tenant(f"sha256:{key_digest('hidden-key')}") is None  # the digest is no key
    assert ring.tenant("other") is None
    assert keyring_from_env({}) is None
    assert len(keyring_from_env({"HYPERMNESIA_API_KEYS": str(path)}) or []) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("lonely\n", "line 1: expected 'key user_id [agent_id]'"),
        ("k sam\nk max\n", "line 2: this key is already listed"),
        ("k bad/user\n", "line 1: invalid namespace part"),
        ("sha256:abc sam\n", "line 1: a hashed key is 'sha256:' and 64 hex digits"),
        ("# nothing\n", "lists no key"),
    ],
)
def test_a_bad_keys_file_is_refused_naming_the_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "keys"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=re.escape(message)) as caught:
        KeyRing.load(path)
    assert "k " not in str(caught.value)  # the key itself is never echoed


# -- who is calling ------------------------------------------------------------------------------


def test_no_key_or_a_wrong_key_is_401_and_writes_nothing(
    keyed: TestClient, engine: Hypermnesia
) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic sam-key"}):
        reply = keyed.post("/v1/memories", json=TURNS, headers=headers)
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer"
    assert keyed.get("/v1/runs").status_code == 401
    assert engine.store.stats().units == 0 and engine.traces.list_runs() == []


def test_a_malformed_body_is_422_naming_the_field_and_writes_nothing(
    keyed: TestClient, engine: Hypermnesia
) -> None:
    bodies: list[tuple[dict[str, Any], list[Any]]] = [
        ({"turns": []}, ["body", "turns"]),
        ({"turns": [{"speaker": "Sam"}]}, ["body", "turns", 0, "text"]),
        ({"turns": [{"speaker": "Sam", "text": "   "}]}, ["body", "turns", 0, "text"]),
        ({"turns": [{"speaker": "Sam", "text": "a\x00b"}]}, ["body", "turns", 0, "text"]),
        ({**TURNS, "session_date": "yesterday"}, ["body", "session_date"]),
        ({**TURNS, "session_id": "s" * 101}, ["body", "session_id"]),
        ({**TURNS, "colour": "red"}, ["body", "colour"]),
        ({**TURNS, "user_id": "max"}, ["body", "user_id"]),
    ]
    for body, loc in bodies:
        reply = keyed.post("/v1/memories", json=body, headers=SAM)
        assert reply.status_code == 422, body
        assert reply.json()["detail"][0]["loc"] == loc
    assert (
        keyed.post("/v1/recall", json={"question": "x", "recipe": "nope"}, headers=SAM).status_code
        == 422
    )
    assert keyed.get("/v1/runs?agent_id=x", headers=SAM).status_code == 422
    assert engine.store.stats().units == 0 and engine.traces.list_runs() == []


def test_the_key_names_the_namespace(keyed: TestClient, engine: Hypermnesia) -> None:
    longest = {**TURNS, "session_id": "s" * 100}  # its generated turn ids still fit
    written = keyed.post("/v1/memories", json=longest, headers={"Authorization": "Bearer max-key"})
    assert written.status_code == 201
    assert engine.store.stats(Namespace(user_id="max", agent_id="bot")).units > 0
    assert engine.store.stats(Namespace(user_id="sam")).units == 0
    run_id = written.json()["run_id"]
    assert keyed.get(f"/v1/runs/{run_id}", headers=SAM).status_code == 404
    assert (
        keyed.get(f"/v1/runs/{run_id}", headers={"Authorization": "Bearer max-key"}).json()[
            "namespace"
        ]
        == "max/bot"
    )


def test_a_cookie_opens_reads_but_never_writes(keyed: TestClient) -> None:
    keyed.cookies.set(KEY_COOKIE, "sam-key")
    assert keyed.get("/v1/runs").status_code == 200
    assert keyed.post("/v1/memories", json=TURNS).status_code == 401
    assert keyed.delete("/v1/units/u0").status_code == 401


# -- local mode and error statuses ---------------------------------------------------------------


def test_local_mode_takes_the_namespace_from_the_request(
    local: TestClient, engine: Hypermnesia
) -> None:
    assert local.get("/healthz").json() == {"status": "ok", "mode": "local", "worker": os.getpid()}
    missing = local.post("/v1/memories", json=TURNS)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "user_id"]
    assert local.post("/v1/memories", json={**TURNS, "user_id": "bad user"}).status_code == 422
    assert local.post("/v1/memories", json={**TURNS, "user_id": "sam"}).status_code == 201
    assert local.get("/v1/runs").status_code == 422
    assert len(local.get("/v1/runs", params={"user_id": "sam"}).json()["runs"]) == 1
    assert local.get("/v1/runs", params={"user_id": "max"}).json() == {"runs": []}
    assert engine.store.stats(Namespace(user_id="sam")).units > 0


def test_engine_errors_become_statuses(keyed: TestClient) -> None:
    assert keyed.delete("/v1/units/u123", headers=SAM).status_code == 404
    assert keyed.get("/v1/units/u123/history", headers=SAM).status_code == 404
    assert keyed.get("/v1/runs/run-x", headers=SAM).status_code == 404
    odd_space = keyed.post("/v1/recall", json={"question": "\x1c"}, headers=SAM)
    assert odd_space.status_code == 422  # passes the schema, refused by the engine


def test_serve_refuses_local_mode_off_the_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import app

    monkeypatch.delenv("HYPERMNESIA_API_KEYS", raising=False)
    result = CliRunner().invoke(app.app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "local mode" in result.output and "HYPERMNESIA_API_KEYS" in result.output


def test_mcp_over_http_needs_a_namespace_before_it_starts(
    keyed: TestClient, local: TestClient
) -> None:
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    assert keyed.post("/mcp", json=rpc, headers=accept).status_code == 401
    nameless = local.post("/mcp", json=rpc, headers=accept)
    assert nameless.status_code == 422 and "user_id" in nameless.json()["detail"]
    bad = local.post("/mcp?user_id=bad%20user", json=rpc, headers=accept)
    assert bad.status_code == 422 and "invalid namespace part" in bad.json()["detail"]


def test_a_server_side_error_is_logged_with_its_traceback(
    keyed: TestClient,
    engine: Hypermnesia,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise StoreUnavailableError("the journal does not answer")

    monkeypatch.setattr(engine, "remember", unavailable)
    with caplog.at_level("ERROR", logger="graphs.service.rest"):
        reply = keyed.post("/v1/memories", json=TURNS, headers=SAM)
        assert keyed.get("/v1/units/u123/history", headers=SAM).status_code == 404
    assert reply.status_code == 503
    assert reply.json() == {"detail": "the journal does not answer"}
    (record,) = caplog.records  # the 404 is the caller's mistake: not logged
    assert record.getMessage() == "POST /v1/memories failed: the journal does not answer"
    assert record.exc_info is not None and record.exc_info[0] is StoreUnavailableError
