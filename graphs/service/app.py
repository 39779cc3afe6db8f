"""``create_app``: the one FastAPI application — REST under ``/v1``, MCP at ``/mcp``, the trace
viewer under ``/ui/`` (:mod:`graphs.service.viewer`), ``/healthz``.

The engine and the key ring live in ``app.state`` (``engine``, ``keys``); every router on the app
asks who is calling with ``Depends(graphs.service.auth.caller)``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from graphs.aio import AsyncHypermnesia
from graphs.service.auth import KeyRing, keyring_from_env
from graphs.service.mcp import MCP_PATH, build_mcp, http_tenancy, mcp_http_app
from graphs.service.rest import add_error_handlers, router
from graphs.service.viewer import add_viewer
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
    add_viewer(app)
    app.router.routes.append(Route(MCP_PATH, mcp_app))
    add_error_handlers(app)
    if keys is not None:
        _schema_without_local_fields(app)
    return app


_LOCAL_FIELDS = ("user_id", "agent_id")


def _schema_without_local_fields(app: FastAPI) -> None:
    """With API keys the namespace comes from the key, so the schema does not offer the local
    mode's ``user_id`` / ``agent_id`` (a request that sends them anyway gets a 422)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # cached by FastAPI; edited in place once
        for path in schema["paths"].values():
            for op in path.values():
                kept = [p for p in op.get("parameters", []) if p["name"] not in _LOCAL_FIELDS]
                op["parameters"] = kept
        for component in schema.get("components", {}).get("schemas", {}).values():
            for name in _LOCAL_FIELDS:
                component.get("properties", {}).pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_env() -> FastAPI:
    """The app as ``app.py serve`` runs it in each worker: data folder and Chroma server from the
    settings, keys from ``HYPERMNESIA_API_KEYS``, host from ``HYPERMNESIA_SERVE_HOST``."""
    settings = Settings()
    host = os.environ.get(HOST_ENV, "127.0.0.1")
    return create_app(
        data_dir=settings.data_dir, settings=settings, keys=keyring_from_env(), host=host
    )
