"""The service as clients meet it: a real ``app.py serve`` on 127.0.0.1, curl and the README's
examples, the MCP SDK's real client over stdio (``app.py mcp``) and over streamable HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.readme_examples import readme_example
from tests.service_server import ROOT, Service, service_env

pytestmark = pytest.mark.slow


def test_the_readme_curl_example_remembers_and_recalls(keyed_service: Service) -> None:
    env = {"HYPERMNESIA_URL": keyed_service.url, "HYPERMNESIA_KEY": keyed_service.keys["alice"]}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_example("rest")],
        env=env | {"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    remembered, recalled, runs = _json_documents(done.stdout)
    assert remembered["turns"] == 1
    assert any("Biscuit" in e["text"] for e in recalled["evidence"])
    assert {"unit_id", "text", "score", "granularity", "provenance", "date"} <= set(
        recalled["evidence"][0]
    )
    assert recalled["verdict"] in {"sufficient", "insufficient", "conflict"}
    assert {r["run_id"] for r in runs["runs"]} >= {remembered["run_id"], recalled["run_id"]}


def _json_documents(text: str) -> list[Any]:
    """The JSON documents curl printed back to back (curl adds no newline)."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)
    return docs


def test_keys_decide_who_gets_in(keyed_service: Service) -> None:
    url = keyed_service.url
    body = {"turns": [{"speaker": "Eve", "text": "Eve was here"}]}
    assert httpx.get(f"{url}/healthz").json().items() >= {"status": "ok", "mode": "keys"}.items()
    assert httpx.post(f"{url}/v1/memories", json=body).status_code == 401
    wrong = {"Authorization": "Bearer not-a-key"}
    assert httpx.post(f"{url}/v1/memories", json=body, headers=wrong).status_code == 401
    carol = keyed_service.headers("carol")
    bad = httpx.post(f"{url}/v1/memories", json={"turns": [{"text": "x"}]}, headers=carol)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "turns", 0, "speaker"]
    named = httpx.post(f"{url}/v1/recall", json={"question": "q", "user_id": "bob"}, headers=carol)
    assert named.status_code == 422
    assert httpx.get(f"{url}/v1/runs", headers=carol).json() == {"runs": []}  # nothing written
    assert httpx.get(f"{url}/openapi.json").json()["paths"].keys() >= {
        "/v1/memories",
        "/v1/recall",
        "/v1/units/{unit_id}",
        "/v1/units/{unit_id}/history",
        "/v1/runs",
        "/v1/runs/{run_id}",
        "/healthz",
    }


def test_forget_previews_then_cascades_and_history_follows(keyed_service: Service) -> None:
    url, bob = keyed_service.url, keyed_service.headers("bob")
    turns = [{"speaker": "Bob", "text": "I live in Boston with my sister Maya."}]
    written = httpx.post(f"{url}/v1/memories", json={"turns": turns}, headers=bob).json()
    turn_unit = next(d["unit_id"] for d in written["decisions"] if d["granularity"] == "turn")
    history = httpx.get(f"{url}/v1/units/{turn_unit}/history", headers=bob).json()
    assert history["events"][0]["op"] == "put"
    assert [u["id"] for u in history["units"]] == [turn_unit]
    preview = httpx.delete(f"{url}/v1/units/{turn_unit}?dry_run=true", headers=bob).json()
    assert preview["dry_run"] and turn_unit in preview["deleted"]
    assert len(preview["deleted"]) > 1  # the facts built from the turn go with it
    assert httpx.get(f"{url}/v1/units/{turn_unit}/history", headers=bob).status_code == 200
    gone = httpx.delete(f"{url}/v1/units/{turn_unit}", headers=bob).json()
    assert gone["deleted"] == preview["deleted"] and not gone["dry_run"]
    assert httpx.delete(f"{url}/v1/units/{turn_unit}", headers=bob).status_code == 404
    run = httpx.get(f"{url}/v1/runs/{written['run_id']}", headers=bob).json()
    assert run["graph"] == "write"  # the run that wrote the forgotten turn keeps only a marker
    assert [(s["agent"], s["decision"]) for s in run["steps"]] == [("engine", "erased")]


# -- MCP ---------------------------------------------------------------------------------------


async def _mcp_session(client: Client, marker: str) -> dict[str, Any]:
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools == {"remember", "recall", "forget", "history", "recent_runs"}
    text = f"I keep a {marker} in the garden shed."
    written = await client.call_tool("remember", {"text": text, "speaker": "Sam"})
    assert not written.is_error
    found = await client.call_tool("recall", {"question": f"Where is the {marker}?"})
    assert not found.is_error and found.structured_content is not None
    evidence = found.structured_content["evidence"]
    assert any(marker in e["text"] for e in evidence)
    unit = evidence[0]["unit_id"]
    history = await client.call_tool("history", {"unit_id": unit})
    assert not history.is_error
    runs = await client.call_tool("recent_runs", {"limit": 5})
    assert runs.structured_content is not None
    assert len(runs.structured_content["runs"]) >= 2
    forgotten = await client.call_tool("forget", {"unit_ids": [unit]})
    assert not forgotten.is_error
    again = await client.call_tool("forget", {"unit_ids": [unit]})
    assert again.is_error
    return {"written": written.structured_content, "evidence": evidence}


def _http_client(config: dict[str, Any]) -> Client:
    server = config["mcpServers"]["hypermnesia"]
    http = httpx2.AsyncClient(headers=server.get("headers", {}), timeout=60)
    return Client(streamable_http_client(server["url"], http_client=http))


def test_mcp_over_http_with_the_readme_config(keyed_service: Service) -> None:
    text = readme_example("mcp-http")
    text = text.replace("http://127.0.0.1:8080", keyed_service.url)
    text = text.replace("my-secret-key", keyed_service.keys["carol"])

    async def scenario() -> None:
        async with _http_client(json.loads(text)) as client:
            await _mcp_session(client, "blue kayak")

    anyio.run(scenario)
    runs = httpx.get(f"{keyed_service.url}/v1/runs", headers=keyed_service.headers("carol"))
    assert any(r["graph"] == "read" for r in runs.json()["runs"])


def test_mcp_over_http_refuses_a_wrong_key(keyed_service: Service) -> None:
    reply = httpx.post(
        f"{keyed_service.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": "Bearer nope", "Accept": "application/json, text/event-stream"},
    )
    assert reply.status_code == 401


def test_mcp_over_stdio_with_the_readme_config(tmp_path: Path) -> None:
    text = readme_example("mcp-stdio").replace("/path/to/hypermnesia/.hypermnesia", str(tmp_path))
    server = json.loads(text.replace("/path/to/hypermnesia", str(ROOT)))["mcpServers"]
    config = server["hypermnesia"]
    env = service_env(tmp_path) | config["env"]
    command = config["command"] if Path(config["command"]).exists() else sys.executable
    params = StdioServerParameters(command=command, args=config["args"], env=env)

    async def scenario() -> None:
        async with Client(params) as client:
            out = await _mcp_session(client, "red canoe")
            assert out["written"]["turn_ids"]

    anyio.run(scenario)
    assert (tmp_path / "traces.sqlite3").exists()  # the configured data folder was used


# -- the Python examples ---------------------------------------------------------------------------


def test_the_readme_python_examples_run(tmp_path: Path) -> None:
    """Both examples in one interpreter (one start-up), one after the other, as written."""
    examples = [readme_example("langgraph-store"), readme_example("async")]
    program = "\nprint('---')\n".join(examples)
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=service_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    store_out, async_out = done.stdout.split("---\n")
    assert store_out.strip() == "['I adopted a beagle named Biscuit.']"
    assert "Denver" in async_out
