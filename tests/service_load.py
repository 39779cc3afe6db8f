"""A bounded load run against a live service on 127.0.0.1: concurrent clients alternate remember
(one turn holding a fresh code word) and recall for a fixed time, then every remembered turn is
looked for by its code word. Counts, throughput, latency percentiles, errors and lost writes."""

from __future__ import annotations

import asyncio
import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

__all__ = ["LoadReport", "run_load"]


@dataclass
class LoadReport:
    seconds: float
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"remember": [], "recall": []}
    )
    errors: list[str] = field(default_factory=list)
    written: list[tuple[str, str, str]] = field(default_factory=list)
    """(user, turn id, code word) of every acknowledged remember."""
    lost: list[tuple[str, str, str]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seconds": round(self.seconds, 1)}
        total = sum(len(v) for v in self.latencies.values())
        out["requests"] = total
        out["requests_per_s"] = round(total / self.seconds, 2)
        for op, values in self.latencies.items():
            ms = np.asarray(values) * 1000.0
            out[f"{op}_count"] = len(values)
            out[f"{op}_p50_ms"] = round(float(np.percentile(ms, 50)), 1) if len(ms) else None
            out[f"{op}_p95_ms"] = round(float(np.percentile(ms, 95)), 1) if len(ms) else None
        out["errors"] = len(self.errors)
        out["written"] = len(self.written)
        out["lost_writes"] = len(self.lost)
        return out


def _word(rng: random.Random) -> str:
    return "zq" + "".join(rng.choices(string.ascii_lowercase, k=10))


async def _client(
    http: httpx.AsyncClient,
    user: str,
    key: str,
    stop_at: float,
    rng: random.Random,
    report: LoadReport,
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    mine: list[str] = []
    while time.monotonic() < stop_at:
        word = _word(rng)
        body = {"turns": [{"speaker": user, "text": f"{user} noted the code word {word} today."}]}
        await _timed(http, "remember", "/v1/memories", body, headers, report, (user, word))
        mine.append(word)
        if time.monotonic() >= stop_at:
            break
        question = {"question": f"Which code word is {rng.choice(mine)}?", "budget": 300}
        await _timed(http, "recall", "/v1/recall", question, headers, report, None)


async def _timed(
    http: httpx.AsyncClient,
    op: str,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    report: LoadReport,
    written: tuple[str, str] | None,
) -> None:
    started = time.perf_counter()
    try:
        reply = await http.post(path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        report.errors.append(f"{op}: {exc!r}")
        return
    report.latencies[op].append(time.perf_counter() - started)
    if reply.status_code >= 300:
        report.errors.append(f"{op}: {reply.status_code} {reply.text[:200]}")
    elif written is not None:
        report.written.append((written[0], reply.json()["turn_ids"][0], written[1]))


async def _find(http: httpx.AsyncClient, keys: dict[str, str], item: tuple[str, str, str]) -> bool:
    user, turn_id, word = item
    reply = await http.post(
        "/v1/recall",
        json={"question": f"Which code word is {word}?", "budget": 300},
        headers={"Authorization": f"Bearer {keys[user]}"},
    )
    reply.raise_for_status()
    return any(turn_id in e["provenance"] for e in reply.json()["evidence"])


async def _run(url: str, keys: dict[str, str], clients: int, seconds: float) -> LoadReport:
    report = LoadReport(seconds=seconds)
    users = sorted(keys)
    limits = httpx.Limits(max_connections=clients * 2)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        stop_at = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(
            *(
                _client(
                    http,
                    users[i % len(users)],
                    keys[users[i % len(users)]],
                    stop_at,
                    random.Random(i),
                    report,
                )
                for i in range(clients)
            )
        )
        report.seconds = time.monotonic() - started
        semaphore = asyncio.Semaphore(clients)

        async def check(item: tuple[str, str, str]) -> None:
            async with semaphore:
                if not await _find(http, keys, item):
                    report.lost.append(item)

        await asyncio.gather(*(check(item) for item in report.written))
    return report


def run_load(
    url: str, keys: dict[str, str], *, clients: int = 16, seconds: float = 30.0
) -> LoadReport:
    """``clients`` concurrent clients (spread over the tenants of ``keys``) for ``seconds``."""
    return asyncio.run(_run(url, keys, clients, seconds))
