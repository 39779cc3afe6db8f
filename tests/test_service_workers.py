"""Several workers behind one port: a write through one worker is visible to the next recall
through any other, on SQLite files beside the Chroma server ``serve --workers 4`` runs, and on
PostgreSQL beside a Chroma server (the scaled deployment). The load test runs 16 clients for 30 s
against one worker and against four: no errors, no lost writes. A worker killed with SIGKILL in
the middle of the load loses no turn: its replacement finishes what it had journaled."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from evals.bench.load import LoadReport, keyed_tenants, run_load
from memory.settings import Settings
from tests.conftest import deployment_env
from tests.service_server import Service, running_service

pytestmark = pytest.mark.slow


def _word(i: int) -> str:
    return "zq" + "".join(chr(ord("a") + (i * 7 + j * 3) % 26) for j in range(9))


def _write_and_recall_across_workers(svc: Service, writes: int) -> None:
    headers = svc.headers("sam")
    for i in range(writes):
        word = _word(i)
        body = {"turns": [{"speaker": "Sam", "text": f"Sam noted the code word {word}."}]}
        with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as first:
            turn_id = first.post("/v1/memories", json=body).json()["turn_ids"][0]
        # fresh connections: the kernel spreads them over the workers
        for _ in range(3):
            with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as other:
                found = other.post("/v1/recall", json={"question": f"code word {word}?"})
            provenance = [p for e in found.json()["evidence"] for p in e["provenance"]]
            assert turn_id in provenance, f"write {i} not seen by the next recall"


def test_a_write_through_one_worker_is_recalled_through_the_others(tmp_path: Path) -> None:
    with running_service(tmp_path, ["sam"], workers=4) as svc:
        assert (svc.data_dir / "chroma").is_dir()  # the Chroma server keeps its data there
        _write_and_recall_across_workers(svc, 6)
    chroma = subprocess.run(["pgrep", "-f", f"chroma run --path {svc.data_dir}"], check=False)
    assert chroma.returncode == 1  # stopped with the service


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_two_workers_share_postgres_and_a_chroma_server(
    tmp_path: Path, deployment: Settings
) -> None:
    env = deployment_env(deployment)
    with running_service(tmp_path, ["sam"], workers=2, env=env) as svc:
        _write_and_recall_across_workers(svc, 4)
        runs = httpx.get(f"{svc.url}/v1/runs", headers=svc.headers("sam"), timeout=60).json()
    assert len(runs["runs"]) >= 4 * 4  # every worker's runs, in the shared trace tables
    assert not (svc.data_dir / "chroma").exists()  # vectors went to the server
    assert not list(svc.data_dir.glob("*.sqlite3")), "a SQLite file was written"


def _load_workers(deployment: Settings) -> dict[str, str]:
    return deployment_env(deployment) if deployment.database_url else {}


@pytest.mark.load
@pytest.mark.parametrize("workers", [1, 4])
def test_load_16_clients_for_30_seconds(tmp_path: Path, workers: int, deployment: Settings) -> None:
    users = ["load0", "load1", "load2", "load3"]
    seconds = float(os.environ.get("HYPERMNESIA_LOAD_SECONDS", "30"))
    with running_service(tmp_path, users, workers=workers, env=_load_workers(deployment)) as svc:
        report = run_load(svc.url, keyed_tenants(svc.keys), clients=16, seconds=seconds)
    backend = "postgres" if deployment.database_url else "sqlite"
    print(json.dumps({"backend": backend, "workers": workers, **report.figures()}))
    assert report.errors == [], f"{report.errors[:5]}\n{svc.log_tail()}"
    assert report.written, "no write was acknowledged"
    lost = f"{len(report.lost)} of {len(report.written)} writes lost"
    assert report.lost == [], f"{lost}\n{svc.log_tail()}"


def _other_workers(url: str, victim: int, count: int, timeout: float = 180.0) -> set[int]:
    """Wait until ``count`` workers other than ``victim`` answer (the replacement included)."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only workers {seen} answered"
        with contextlib.suppress(httpx.HTTPError):
            seen.add(httpx.get(f"{url}/healthz", timeout=5).json()["worker"])
        seen.discard(victim)
        time.sleep(0.05)
    return seen


@pytest.mark.parametrize("deployment", ["postgres"], indirect=True)
def test_a_worker_killed_under_load_loses_no_turn(tmp_path: Path, deployment: Settings) -> None:
    env = deployment_env(deployment)
    with running_service(tmp_path, ["k0", "k1", "k2"], workers=2, env=env) as svc:
        reports: list[LoadReport] = []
        load = threading.Thread(
            target=lambda: reports.append(
                run_load(svc.url, keyed_tenants(svc.keys), clients=8, seconds=12)
            )
        )
        load.start()
        time.sleep(4)
        victim = int(httpx.get(f"{svc.url}/healthz", timeout=10).json()["worker"])
        os.kill(victim, signal.SIGKILL)
        load.join()
        _other_workers(svc.url, victim, 2)  # the replacement has opened the engine: recovered
    (report,) = reports
    assert report.written and report.lost == [], svc.log_tail()
    # the only errors are the requests that were in flight in the killed worker
    server_side = [e for e in report.errors if "HTTPStatusError" in e or ": 5" in e]
    assert server_side == [], f"{server_side[:5]}\n{svc.log_tail()}"
    assert f"Child process [{victim}] died" in svc.log_tail(lines=10_000)  # the operator sees it
    assert deployment.database_url is not None
    with psycopg.connect(deployment.database_url) as conn:
        pending = conn.execute(
            "SELECT (SELECT count(*) FROM writes WHERE status = 'pending'), "
            "(SELECT count(*) FROM turns WHERE status = 'pending'), "
            "(SELECT count(*) FROM ops WHERE status = 'pending')"
        ).fetchone()
    assert pending == (0, 0, 0), "a journaled write was never finished"
