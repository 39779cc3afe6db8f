"""A real ``app.py serve`` for tests: uvicorn on 127.0.0.1 and a free port, the fake embedder,
a temp data folder, optional API keys; stopped (with any Chroma server it ran) on exit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.chroma_server import free_port

__all__ = ["ROOT", "Service", "running_service", "service_env", "write_keys"]

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 240.0
_WORKER_EVENT = re.compile(r"Child process|Started server process|Waiting for child|died|[Kk]ill")
"""uvicorn's lines about worker processes (started, died, replaced, killed)."""


@dataclass
class Service:
    url: str
    data_dir: Path
    keys: dict[str, str] = field(default_factory=dict)
    """user id → API key (empty in local mode)."""
    log: Path | None = None
    """Where the service's stdout and stderr go (its tracebacks, for a failing test to show)."""

    def log_tail(self, lines: int = 60) -> str:
        """The service log's last ``lines`` lines, to put in a failing assertion's message,
        after the lines before them that tell of worker processes starting, dying or being
        killed (a long traceback at the end would otherwise push a worker's death out of view).
        """
        if self.log is None or not self.log.exists():
            return "(no service log)"
        every = self.log.read_text(errors="replace").splitlines()
        tail = every[-lines:]
        if not tail:
            return "(the service log is empty)"
        earlier = [line for line in every[: -len(tail)] if _WORKER_EVENT.search(line)]
        head = ["worker events before the tail:", *earlier, "..."] if earlier else []
        return "service log:\n" + "\n".join([*head, *tail])

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user]}"}


def service_env(data_dir: Path, keys_file: Path | None = None) -> dict[str, str]:
    """The environment of a service or MCP process under test (fake embedder, no LLM)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERMNESIA_")}
    env.update(
        HYPERMNESIA_EMBEDDER="fake",
        HYPERMNESIA_DATA_DIR=str(data_dir),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
    )
    if keys_file is not None:
        env["HYPERMNESIA_API_KEYS"] = str(keys_file)
    return env


def write_keys(path: Path, users: list[str]) -> dict[str, str]:
    """A keys file with one key per user (the last one in hashed form); returns user → key."""
    from graphs.service.auth import key_digest

    keys = {u: f"test-key-{u}-{os.urandom(8).hex()}" for u in users}
    lines = [f"{keys[u]} {u}" for u in users[:-1]]
    lines.append(f"sha256:{key_digest(keys[users[-1]])} {users[-1]}  # hashed")
    path.write_text("# test keys\n" + "\n".join(lines) + "\n")
    return keys


@contextmanager
def running_service(
    tmp: Path,
    users: list[str] | None = None,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
) -> Iterator[Service]:
    """``app.py serve`` in ``tmp``; with ``users``, a keys file with a key for each; ``env`` adds
    variables (a database URL, a Chroma server)."""
    data_dir = tmp / "data"
    keys_file = tmp / "keys.txt" if users else None
    keys = write_keys(keys_file, users) if keys_file is not None and users else {}
    port = free_port()
    log_path = tmp / "service.log"
    log = log_path.open("wb")
    args = ["app.py", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**service_env(data_dir, keys_file), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    service = Service(f"http://127.0.0.1:{port}", data_dir, keys, log_path)
    try:
        _wait_until_healthy(service.url, process, log_path, workers)
        yield service
    finally:
        _stop(process)
        log.close()


def _wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, workers: int
) -> None:
    """Until every worker has answered (each new connection may reach another worker)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    seen: set[int] = set()
    while True:
        try:
            seen.add(httpx.get(f"{url}/healthz", timeout=2.0).json()["worker"])
            if len(seen) >= workers:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"app.py serve exited with {process.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"app.py serve did not answer in {STARTUP_TIMEOUT_S} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT first (uvicorn and serve's Chroma server shut down cleanly), then the group."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
