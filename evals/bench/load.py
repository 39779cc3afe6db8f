"""A bounded load run against a live service on the loopback interface: concurrent clients
alternate remember (one turn holding a fresh code word) and recall for a fixed time, then every
remembered turn is looked for by its code word. Counts, throughput, latency percentiles, errors
and lost writes (acknowledged turns that no recall finds afterwards).

Tenants are either the users of a keys file (``key user`` lines, the keys in plain form: the
service's keyed mode) or, in local mode, users named in each request. The load is bounded in
clients and seconds, and only a service on 127.0.0.1, localhost or ::1 is accepted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from memory.errors import InvalidInputError

__all__ = [
    "MAX_CLIENTS",
    "MAX_SECONDS",
    "SHOWN",
    "LoadReport",
    "Tenant",
    "keyed_tenants",
    "local_tenants",
    "read_keys",
    "run_load",
    "run_load_bench",
]

MAX_CLIENTS = 256
MAX_SECONDS = 600.0
#: Lost turns and error messages named in the figures (the counts cover all of them).
SHOWN = 10
KEEPALIVE_S = 2.0
"""How long the load test keeps an idle connection: under the service's keep-alive timeout."""
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_OPS = ("remember", "recall")


@dataclass(frozen=True)
class Tenant:
    """Whom the requests of one client speak for: the headers and body fields that say so."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    scope: dict[str, str] = field(default_factory=dict)


def keyed_tenants(keys: dict[str, str]) -> list[Tenant]:
    """One tenant per ``user → key`` (the service has API keys)."""
    return [Tenant(u, {"Authorization": f"Bearer {k}"}) for u, k in sorted(keys.items())]


def local_tenants(users: int) -> list[Tenant]:
    """``users`` tenants named in each request (the service runs in local mode)."""
    return [Tenant(f"load{i}", scope={"user_id": f"load{i}"}) for i in range(users)]


def read_keys(path: Path) -> dict[str, str]:
    """user → key from a file of ``key user`` lines (``#`` starts a comment)."""
    keys: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        if len(line) != 2 or line[0].startswith("sha256:"):
            raise InvalidInputError(f"{path}:{number}: expected 'key user' with a plain key")
        keys[line[1]] = line[0]
    if not keys:
        raise InvalidInputError(f"{path} holds no 'key user' line")
    return keys


@dataclass
class LoadReport:
    seconds: float
    clients: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in _OPS})
    errors: list[str] = field(default_factory=list)
    written: list[tuple[str, str, str]] = field(default_factory=list)
    """(tenant, turn id, code word) of every acknowledged remember."""
    lost: list[tuple[str, str, str]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """The figures (``requests``, ``errors``, ``rps``, ``p50_ms``, ``p95_ms``,
        ``lost_writes``), the same per operation, the load average of this machine, and the
        first lost turns (``tenant:turn id``) and error messages, to look into."""
        every = [x for values in self.latencies.values() for x in values]
        out: dict[str, Any] = {
            "requests": len(every),
            "errors": len(self.errors),
            "rps": round(len(every) / self.seconds, 2) if self.seconds > 0 else 0.0,
            **_percentiles("", every),
            "lost_writes": len(self.lost),
            "written": len(self.written),
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
        }
        for op, values in self.latencies.items():
            out[f"{op}_count"] = len(values)
            out.update(_percentiles(f"{op}_", values))
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
        out["lost_turns"] = [f"{tenant}:{turn}" for tenant, turn, _ in self.lost[:SHOWN]]
        out["first_errors"] = self.errors[:SHOWN]
        return out


def _percentiles(prefix: str, seconds: list[float]) -> dict[str, float | None]:
    ms = np.asarray(seconds) * 1000.0
    return {
        f"{prefix}p{q}_ms": round(float(np.percentile(ms, q)), 1) if len(ms) else None
        for q in (50, 95)
    }


def _word(rng: random.Random) -> str:
    return "zq" + "".join(rng.choices(string.ascii_lowercase, k=10))


def _question(word: str) -> str:
    return f"Which code word is {word}?"


async def _client(
    http: httpx.AsyncClient, tenant: Tenant, stop_at: float, rng: random.Random, report: LoadReport
) -> None:
    mine: list[str] = []
    while time.monotonic() < stop_at:
        word = _word(rng)
        turn = {"speaker": tenant.name, "text": f"{tenant.name} noted the code word {word} today."}
        body = {**tenant.scope, "turns": [turn]}
        await _timed(http, "remember", "/v1/memories", body, tenant, report, word)
        mine.append(word)
        if time.monotonic() >= stop_at:
            break
        question = {**tenant.scope, "question": _question(rng.choice(mine)), "budget": 300}
        await _timed(http, "recall", "/v1/recall", question, tenant, report, None)


async def _timed(
    http: httpx.AsyncClient,
    op: str,
    path: str,
    body: dict[str, Any],
    tenant: Tenant,
    report: LoadReport,
    word: str | None,
) -> None:
    started = time.perf_counter()
    try:
        reply = await http.post(path, json=body, headers=tenant.headers)
    except httpx.HTTPError as exc:
        report.errors.append(f"{op}: {exc!r}")
        return
    report.latencies[op].append(time.perf_counter() - started)
    if reply.status_code >= 300:
        report.errors.append(f"{op}: {reply.status_code} {reply.text[:200]}")
    elif word is not None:
        report.written.append((tenant.name, reply.json()["turn_ids"][0], word))


async def _found(http: httpx.AsyncClient, tenant: Tenant, turn_id: str, word: str) -> bool:
    body = {**tenant.scope, "question": _question(word), "budget": 300}
    reply = await http.post("/v1/recall", json=body, headers=tenant.headers)
    reply.raise_for_status()
    return any(turn_id in e["provenance"] for e in reply.json()["evidence"])


async def _run(url: str, tenants: list[Tenant], clients: int, seconds: float) -> LoadReport:
    report = LoadReport(seconds=seconds, clients=clients)
    by_name = {t.name: t for t in tenants}
    # An idle connection is dropped well before the server's keep-alive timeout (uvicorn's is
    # 5 s, httpx's default expiry too): reused at the moment the server closes it, a request
    # meets a reset connection and fails without reaching the service.
    limits = httpx.Limits(max_connections=clients * 2, keepalive_expiry=KEEPALIVE_S)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(
            *(
                _client(http, tenants[i % len(tenants)], stop_at, random.Random(i), report)
                for i in range(clients)
            )
        )
        report.seconds = time.monotonic() - started
        semaphore = asyncio.Semaphore(clients)

        async def check(item: tuple[str, str, str]) -> None:
            async with semaphore:
                if not await _found(http, by_name[item[0]], item[1], item[2]):
                    report.lost.append(item)

        await asyncio.gather(*(check(item) for item in report.written))
    return report


def _checked(url: str, clients: int, seconds: float) -> str:
    try:
        host = httpx.URL(url).host
    except httpx.InvalidURL as exc:
        raise InvalidInputError(f"--url {url!r} is not a URL: {exc}") from None
    if host not in _LOOPBACK:
        raise InvalidInputError(f"the load test only runs against a loopback service, not {url!r}")
    if not 1 <= clients <= MAX_CLIENTS:
        raise InvalidInputError(f"--clients must be between 1 and {MAX_CLIENTS}, got {clients}")
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidInputError(f"--seconds must be in (0, {MAX_SECONDS:g}], got {seconds}")
    return url.rstrip("/")


def run_load(url: str, tenants: list[Tenant], *, clients: int, seconds: float) -> LoadReport:
    """``clients`` concurrent clients, spread over ``tenants``, for ``seconds``; then every
    acknowledged write is looked for."""
    if not tenants:
        raise InvalidInputError("the load test needs at least one tenant")
    return asyncio.run(_run(_checked(url, clients, seconds), tenants, clients, seconds))


def run_load_bench(
    url: str, clients: int, seconds: float, tenants: list[Tenant], json_out: bool
) -> dict[str, Any]:
    """``app.py bench load``: the run, a table of its figures, and one JSON line with --json."""
    figures = run_load(url, tenants, clients=clients, seconds=seconds).figures()
    table = Table(title=f"load on {url}: {clients} clients for {seconds:g} s")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, str(value))
    Console(stderr=json_out).print(table)
    if json_out:
        print(json.dumps(figures))
    return figures
