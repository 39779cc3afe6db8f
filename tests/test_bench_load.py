"""``app.py bench load``: bounded, loopback only, and one JSON line with the issue's keys from a
real run against the session's keyed service."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn

from evals.bench.load import KEEPALIVE_S, SHOWN, LoadReport, local_tenants, read_keys, run_load
from memory.errors import InvalidInputError
from tests.service_server import ROOT, Service

KEYS = ("requests", "errors", "rps", "p50_ms", "p95_ms", "lost_writes")


@pytest.mark.parametrize(
    ("url", "clients", "seconds", "message"),
    [
        ("http://10.1.2.3:8080", 4, 1.0, "loopback"),
        ("http://example.com", 4, 1.0, "loopback"),
        ("http://127.0.0.1:8080", 0, 1.0, "--clients"),
        ("http://127.0.0.1:8080", 257, 1.0, "--clients"),
        ("http://localhost:8080", 4, 0.0, "--seconds"),
        ("http://[::1]:8080", 4, 601.0, "--seconds"),
    ],
)
def test_the_load_is_bounded_and_loopback_only(
    url: str, clients: int, seconds: float, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        run_load(url, local_tenants(2), clients=clients, seconds=seconds)


def test_a_keys_file_needs_plain_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# keys\nk-1 sam\nk-2 ana  # a comment\n")
    assert read_keys(keys) == {"sam": "k-1", "ana": "k-2"}
    keys.write_text("sha256:abcd sam\n")
    with pytest.raises(InvalidInputError, match="plain key"):
        read_keys(keys)


def test_a_short_run_prints_the_figures(keyed_service: Service, tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"  # dave's namespace only: other tests read the others'
    keys.write_text(f"{keyed_service.keys['dave']} dave\n")
    args = ["--url", keyed_service.url, "--clients", "4", "--seconds", "3", "--keys", str(keys)]
    done = subprocess.run(
        [sys.executable, "app.py", "bench", "load", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(KEYS) <= figures.keys()
    assert figures["requests"] > 0 and figures["errors"] == 0 and figures["lost_writes"] == 0
    assert figures["lost_turns"] == [] and figures["first_errors"] == []
    assert figures["rps"] > 0 and 0 < figures["p50_ms"] <= figures["p95_ms"]


def test_the_figures_name_the_first_lost_turns_and_errors() -> None:
    report = LoadReport(seconds=2.0, clients=1)
    report.latencies["remember"] += [0.1, 0.2]
    report.errors += [f"recall: 503 busy {i}" for i in range(SHOWN + 2)]
    report.lost += [("sam", f"api:{i}", f"zq{i}") for i in range(SHOWN + 3)]
    figures = report.figures()
    assert figures["lost_writes"] == SHOWN + 3 and figures["errors"] == SHOWN + 2
    assert figures["lost_turns"] == [f"sam:api:{i}" for i in range(SHOWN)]
    assert figures["first_errors"] == [f"recall: 503 busy {i}" for i in range(SHOWN)]


def test_a_far_url_is_one_red_line() -> None:
    done = subprocess.run(
        [sys.executable, "app.py", "bench", "load", "--url", "http://10.0.0.1:1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "loopback" in done.stderr and "Traceback" not in done.stderr


def test_the_load_client_drops_idle_connections_before_the_service_does() -> None:
    # reused at the moment the service closes it, an idle connection fails the next request
    service_keep_alive = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"]
    assert service_keep_alive.default > KEEPALIVE_S
