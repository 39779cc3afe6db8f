"""``create_app``: the one FastAPI application — REST under ``/v1``, MCP at ``/mcp``, ``/healthz``.

The engine and the key ring live in ``app.state`` (``engine``, ``keys``); another router (a trace
viewer at ``/ui/``, say) can be included on the returned app and ask who is calling with
``Depends(graphs.service.auth.caller)``, like the REST routes do.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import Route

from graphs.aio import AsyncHypermnesia
from graphs.service.auth import KeyRing, keyring_from_env
from graphs.service.mcp import MCP_PATH, build_mcp, http_tenancy, mcp_http_app
from graphs.service.rest import add_error_handlers, router
from memory.settings import Settings

__all__ = ["HOST_ENV", "create_app", "create_app_from_env"]

HOST_ENV = "HYPERMNESIA_SERVE_HOST"
"""The host ``app.py serve`` listens on, passed to its worker processes."""


def create_app(
    engine: AsyncHypermnesia | None = None,
    *,
    data_dir: Path | str | None = None,
    settings: Settings | None = None,
    keys: KeyRing | None = None,
    host: str = "127.0.0.1",
) -> FastAPI:
    """The service over ``engine``, or over an engine it opens on ``data_dir`` at startup (and
    closes at shutdown). ``keys`` None is local mode; ``host`` is where it will listen."""

    def current() -> AsyncHypermnesia:
        hm: AsyncHypermnesia = app.state.engine
        return hm

    mcp = build_mcp(current, http_tenancy(keys))
    mcp_app = mcp_http_app(mcp, keys, host)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        opened = None
        if app.state.engine is None:
            opened = await AsyncHypermnesia.open(data_dir, settings=settings)
            app.state.engine = opened
        try:
            async with mcp.session_manager.run():
                yield
        finally:
            if opened is not None:
                await opened.aclose()
                app.state.engine = None

    app = FastAPI(
        title="Hypermnesia",
        summary="Long-term memory for chatbots and agents: remember, recall, forget, traces.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.keys = keys
    app.include_router(router)
    app.router.routes.append(Route(MCP_PATH, mcp_app))
    add_error_handlers(app)
    return app


def create_app_from_env() -> FastAPI:
    """The app as ``app.py serve`` runs it in each worker: data folder and Chroma server from the
    settings, keys from ``HYPERMNESIA_API_KEYS``, host from ``HYPERMNESIA_SERVE_HOST``."""
    settings = Settings()
    host = os.environ.get(HOST_ENV, "127.0.0.1")
    return create_app(
        data_dir=settings.data_dir, settings=settings, keys=keyring_from_env(), host=host
    )
