"""Tenant isolation across every route, MCP tool and trace viewer page: whatever one key does, it
never reads, deletes or traces another tenant's data.

Both tenants remember the same sentences (so shared content cannot hide a leak behind shared ids),
the victim also a secret; then random sequences of the attacker's calls — REST and MCP, aimed at
the victim's unit and run ids — run against a live server, and the victim's data must read back
exactly as it was: on one worker over SQLite and embedded Chroma, and on two workers over
PostgreSQL and a Chroma server.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from graphs.service.auth import KEY_COOKIE
from tests.service_server import Service

pytestmark = pytest.mark.slow

SHARED = [
    "I adopted a beagle named Biscuit last spring.",
    "My sister Maya is a nurse in Denver.",
    "I take a pottery class every Thursday.",
]
SECRET = "The combination of the garden safe is 4-8-15-16."
QUESTIONS = [*SHARED, SECRET, "What is the combination of the safe?", "Who is Maya?"]
ATTACKER, VICTIM = "alice", "bob"


def _seed(svc: Service, user: str, texts: list[str]) -> tuple[set[str], set[str]]:
    """Remember ``texts`` as ``user``; the unit ids and run ids written."""
    turns = [{"speaker": user.title(), "text": t} for t in texts]
    out = httpx.post(f"{svc.url}/v1/memories", json={"turns": turns}, headers=svc.headers(user))
    out.raise_for_status()
    written = out.json()
    recalled = httpx.post(
        f"{svc.url}/v1/recall", json={"question": texts[-1]}, headers=svc.headers(user)
    ).json()
    return {d["unit_id"] for d in written["decisions"]}, {written["run_id"], recalled["run_id"]}


def _victim_state(svc: Service, units: set[str], runs: set[str]) -> Any:
    h = svc.headers(VICTIM)
    histories = {u: httpx.get(f"{svc.url}/v1/units/{u}/history", headers=h).json() for u in units}
    traces = {r: httpx.get(f"{svc.url}/v1/runs/{r}", headers=h).status_code for r in runs}
    listed = httpx.get(f"{svc.url}/v1/runs", params={"limit": 1000}, headers=h).json()["runs"]
    reads = sorted(r["run_id"] for r in listed if r["graph"] == "read")
    return histories, traces, reads


async def _mcp(svc: Service, tool: str, args: dict[str, Any]) -> Any:
    http = httpx2.AsyncClient(headers=svc.headers(ATTACKER), timeout=60)
    async with Client(streamable_http_client(f"{svc.url}/mcp", http_client=http)) as client:
        return await client.call_tool(tool, args)


def _check_rest(svc: Service, op: str, arg: Any, victim: tuple[set[str], set[str]]) -> None:
    units, runs = victim
    url, h = svc.url, svc.headers(ATTACKER)
    if op == "recall":
        body = httpx.post(f"{url}/v1/recall", json={"question": arg}, headers=h).json()
        assert not {e["unit_id"] for e in body["evidence"]} & units
        assert not any("4-8-15" in e["text"] for e in body["evidence"])
    elif op == "delete":
        unit, dry = arg
        r = httpx.delete(f"{url}/v1/units/{unit}", params={"dry_run": dry}, headers=h)
        assert r.status_code == 404 and VICTIM not in r.text
    elif op == "history":
        r = httpx.get(f"{url}/v1/units/{arg}/history", headers=h)
        assert r.status_code == 404 and VICTIM not in r.text
    elif op == "runs":
        listed = httpx.get(f"{url}/v1/runs", params={"limit": 1000}, headers=h).json()["runs"]
        assert not {r["run_id"] for r in listed} & runs
        assert {r["namespace"] for r in listed} <= {f"{ATTACKER}/default"}
    elif op == "run":
        r = httpx.get(f"{url}/v1/runs/{arg}", headers=h)
        assert r.status_code == 404 and VICTIM not in r.text
    elif op == "name_victim":
        body = {"turns": [{"speaker": "A", "text": "planted"}], "user_id": VICTIM}
        assert httpx.post(f"{url}/v1/memories", json=body, headers=h).status_code == 422
        q = {"user_id": VICTIM}
        assert httpx.get(f"{url}/v1/runs", params=q, headers=h).status_code == 422


def _check_mcp(svc: Service, op: str, arg: Any, victim: tuple[set[str], set[str]]) -> None:
    units, runs = victim
    if op == "mcp_recall":
        out = anyio.run(_mcp, svc, "recall", {"question": arg})
        assert not {e["unit_id"] for e in out.structured_content["evidence"]} & units
    elif op in ("mcp_forget", "mcp_history"):
        tool, args = (
            ("forget", {"unit_ids": [arg]}) if op == "mcp_forget" else ("history", {"unit_id": arg})
        )
        out = anyio.run(_mcp, svc, tool, args)
        assert out.is_error and VICTIM not in str(out.content)
    elif op == "mcp_runs":
        out = anyio.run(_mcp, svc, "recent_runs", {"limit": 1000})
        assert not {r["run_id"] for r in out.structured_content["runs"]} & runs


def _check_ui(svc: Service, op: str, arg: Any, victim: tuple[set[str], set[str]]) -> None:
    """The trace viewer's pages, with the attacker's key in the browser cookie."""
    units, runs = victim
    cookies = {KEY_COOKIE: svc.keys[ATTACKER]}
    bob = f"{VICTIM}/default"
    urls = {
        "ui_runs": ("/ui/", {"ns": bob, "q": "combination"}),
        "ui_run": (f"/ui/runs/{arg}", {}),
        "ui_replay": (f"/ui/runs/{arg}/replay", {"recipe": "no-graph"}),
        "ui_unit": (f"/ui/units/{arg}", {"ns": bob}),
        "ui_graph": ("/ui/graph", {"unit": arg, "ns": bob, "hops": 2}),
        "ui_entity": ("/ui/graph", {"entity": arg, "ns": bob, "hops": 2}),
    }
    path, params = urls[op]
    r = httpx.get(f"{svc.url}{path}", params=params, cookies=cookies, timeout=120)
    assert bob not in r.text
    assert op == "ui_runs" or "4-8-15" not in r.text  # the attacker may ask about it himself
    shown = r.text.replace(str(arg), "")  # the id asked for may be echoed ("no trace run 'x'")
    assert not any(u[:14] in shown for u in units) and not any(x in shown for x in runs)
    if op in ("ui_run", "ui_replay", "ui_unit", "ui_graph"):
        assert r.status_code == 404
    else:
        assert r.status_code in (200, 404)


@pytest.mark.parametrize("service", ["keyed_service", "pg_keyed_service"])
def test_no_call_of_one_key_touches_another_tenant(
    request: pytest.FixtureRequest, service: str
) -> None:
    svc: Service = request.getfixturevalue(service)
    _seed(svc, ATTACKER, SHARED)
    victim = _seed(svc, VICTIM, [*SHARED, SECRET])
    before = _victim_state(svc, *victim)
    unit_ids, run_ids = sorted(victim[0]), sorted(victim[1])
    ops = st.lists(
        st.one_of(
            st.tuples(st.just("recall"), st.sampled_from(QUESTIONS)),
            st.tuples(st.just("delete"), st.tuples(st.sampled_from(unit_ids), st.booleans())),
            st.tuples(st.just("history"), st.sampled_from(unit_ids)),
            st.tuples(st.just("runs"), st.none()),
            st.tuples(st.just("run"), st.sampled_from(run_ids)),
            st.tuples(st.just("name_victim"), st.none()),
            st.tuples(st.just("mcp_recall"), st.sampled_from(QUESTIONS)),
            st.tuples(st.just("mcp_forget"), st.sampled_from(unit_ids)),
            st.tuples(st.just("mcp_history"), st.sampled_from(unit_ids)),
            st.tuples(st.just("mcp_runs"), st.none()),
            st.tuples(st.just("ui_runs"), st.none()),
            st.tuples(st.just("ui_run"), st.sampled_from(run_ids)),
            st.tuples(st.just("ui_replay"), st.sampled_from(run_ids)),
            st.tuples(st.just("ui_unit"), st.sampled_from(unit_ids)),
            st.tuples(st.just("ui_graph"), st.sampled_from(unit_ids)),
            st.tuples(st.just("ui_entity"), st.sampled_from(["Maya", "Biscuit", "Bob"])),
        ),
        min_size=1,
        max_size=6,
    )

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops)
    def attack(sequence: list[tuple[str, Any]]) -> None:
        for op, arg in sequence:
            if op.startswith("mcp_"):
                _check_mcp(svc, op, arg, victim)
            elif op.startswith("ui_"):
                _check_ui(svc, op, arg, victim)
            else:
                _check_rest(svc, op, arg, victim)
        assert _victim_state(svc, *victim) == before

    attack()
