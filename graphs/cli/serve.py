"""Serving: the REST + MCP service with uvicorn (``serve``) and the MCP server over stdio (``mcp``).

Several workers cannot share embedded Chroma (one process owns its folder), so ``serve --workers
N`` with N > 1 and no ``HYPERMNESIA_CHROMA_HOST`` runs a Chroma server on the data folder for as
long as the service runs; the SQLite files are shared by the workers directly (WAL).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from memory.errors import InvalidInputError

if TYPE_CHECKING:
    from memory.model import Namespace

__all__ = ["LOOPBACK", "serve", "serve_mcp_stdio"]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WORKER_HEALTHCHECK_S = 60
"""How long uvicorn waits for a worker's answer before it kills and replaces the worker."""


def serve(data_dir: Path | None, host: str, port: int, workers: int) -> None:
    """Run the service until interrupted; checks the keys file and the host before starting."""
    import uvicorn

    from graphs.service.app import HOST_ENV
    from graphs.service.auth import KEYS_ENV, keyring_from_env
    from memory.settings import Settings

    if workers < 1:
        raise InvalidInputError(f"--workers must be at least 1, got {workers}")
    keys = keyring_from_env()  # a bad keys file stops here, not in every worker
    if keys is None and host not in LOOPBACK:
        raise InvalidInputError(
            f"local mode (no {KEYS_ENV} file) serves only 127.0.0.1 or localhost, not {host!r}; "
            f"set {KEYS_ENV} to a keys file to listen on {host}"
        )
    settings = Settings()
    root = (data_dir or settings.data_dir).resolve()
    os.environ["HYPERMNESIA_DATA_DIR"] = str(root)
    os.environ[HOST_ENV] = host
    with ExitStack() as stack:
        if workers > 1 and not settings.chroma_host:
            from graphs.service.chroma import running_chroma

            chroma_host, chroma_port = stack.enter_context(running_chroma(root / "chroma"))
            os.environ["HYPERMNESIA_CHROMA_HOST"] = chroma_host
            os.environ["HYPERMNESIA_CHROMA_PORT"] = str(chroma_port)
        uvicorn.run(
            "graphs.service.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # info: a worker that died and was replaced shows in the log; no line per request
            log_level="info",
            access_log=False,
            # a worker busy importing the engine on a loaded machine is not hung
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )


def serve_mcp_stdio(data_dir: Path | None, ns: Namespace) -> None:
    """Serve the MCP tools over stdin/stdout in namespace ``ns`` until the client disconnects."""
    import anyio

    from graphs.aio import AsyncHypermnesia
    from graphs.service.mcp import build_mcp
    from memory.settings import Settings

    settings = Settings()

    async def main() -> None:
        hm = await AsyncHypermnesia.open(data_dir or settings.data_dir, settings=settings)
        try:
            await build_mcp(lambda: hm, lambda _ctx: ns).run_stdio_async()
        finally:
            await hm.aclose()

    anyio.run(main)
