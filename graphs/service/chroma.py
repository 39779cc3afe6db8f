"""A Chroma server for several service workers: embedded Chroma is one process's only, so
``app.py serve --workers N`` runs ``chroma run`` on the data folder's ``chroma`` directory and
points every worker at it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from memory.errors import StoreUnavailableError

__all__ = ["free_port", "running_chroma"]

STARTUP_TIMEOUT_S = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_chroma(path: Path, host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """Run ``chroma run --path path`` on a free port of ``host`` until the block ends; yields
    ``(host, port)`` once the server answers. Its log goes to ``path/../chroma-server.log``."""
    cli = Path(sys.executable).parent / "chroma"
    if not cli.exists():
        raise StoreUnavailableError(f"the chroma command is not installed next to {sys.executable}")
    path.mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    log = path.parent / "chroma-server.log"
    args = [str(cli), "run", "--path", str(path), "--host", host, "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers(f"http://{host}:{port}"):
            if process.poll() is not None:
                raise StoreUnavailableError(
                    f"chroma run exited with status {process.returncode}; see {log}"
                )
            if time.monotonic() > deadline:
                raise StoreUnavailableError(f"chroma run did not answer in {STARTUP_TIMEOUT_S} s")
            time.sleep(0.2)
        yield host, port
    finally:
        _stop(process)
