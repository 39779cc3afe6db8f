"""A real Chroma server for tests: ``chroma run`` on 127.0.0.1, a free port and a temp directory.

Use :func:`running_chroma_server` as a context manager, or the ``chroma_server`` fixture (session
scope) of ``tests.conftest``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ChromaServer", "free_port", "running_chroma_server"]

STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ChromaServer:
    """A running server: where it listens, where it keeps its data, and its process."""

    host: str
    port: int
    path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _chroma_cli() -> Path:
    cli = Path(sys.executable).parent / "chroma"
    if not cli.exists():
        raise RuntimeError(f"the chroma command is not installed next to {sys.executable}")
    return cli


def _heartbeat(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def stop(server: ChromaServer) -> None:
    """Stop the server process (terminate, then kill if it lingers)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@contextmanager
def running_chroma_server(path: Path) -> Iterator[ChromaServer]:
    """Start ``chroma run`` with its data in ``path``; stop it on exit."""
    port = free_port()
    log = path / "chroma-server.log"
    data = path / "data"
    data.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        args = ["run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(
            [str(_chroma_cli()), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = ChromaServer("127.0.0.1", port, data, process)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _heartbeat(server.url):
            if process.poll() is not None:
                raise RuntimeError(
                    f"chroma run exited with {process.returncode}: {log.read_text()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not answer in {STARTUP_TIMEOUT_S} s")
            time.sleep(0.1)
        yield server
    finally:
        stop(server)
