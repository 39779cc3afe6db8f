"""The MCP server: remember, recall, forget, history and recent_runs as tools, over one engine.

The tenant never comes from a tool argument: over stdio it is the server's configured namespace
(``app.py mcp --user U``); over streamable HTTP (``/mcp`` on ``app.py serve``) it is the request's
API key, or in local mode the ``user_id`` / ``agent_id`` query parameters of the MCP URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from graphs.aio import AsyncHypermnesia
from graphs.service import ops
from graphs.service.auth import KeyRing
from graphs.service.models import (
    DeleteOut,
    HistoryOut,
    RecallOut,
    RememberIn,
    RememberOut,
    RunsOut,
    TurnIn,
)
from memory.errors import HypermnesiaError, InvalidNamespaceError
from memory.model import Namespace

__all__ = ["MCP_PATH", "MemoryTools", "Tenancy", "build_mcp", "http_tenancy", "mcp_http_app"]

T = TypeVar("T")
Tenancy = Callable[[Context], Namespace]
"""Which namespace a tool call works in, from its context (never from its arguments)."""

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "Long-term memory of one user. Call recall(question) before answering about the user's past, "
    "preferences or plans; call remember(text) with what the user said worth keeping."
)


class MemoryTools:
    """The MCP tools over ``engine()``, each call in the namespace ``tenancy`` picks for it."""

    def __init__(self, engine: Callable[[], AsyncHypermnesia], tenancy: Tenancy) -> None:
        self._engine = engine
        self._tenancy = tenancy

    async def _call(
        self, ctx: Context, call: Callable[[AsyncHypermnesia, Namespace], Awaitable[T]]
    ) -> T:
        try:
            return await call(self._engine(), self._tenancy(ctx))
        except HypermnesiaError as exc:  # the model reads the message and can correct itself
            raise ToolError(str(exc)) from None

    async def remember(
        self, text: str, ctx: Context, speaker: str = "user", session_id: str | None = None
    ) -> RememberOut:
        """Remember one message of the conversation: who said it, and optionally its session
        (default: one session per day)."""
        try:
            body = RememberIn(session_id=session_id, turns=[TurnIn(speaker=speaker, text=text)])
        except ValidationError as exc:
            raise ToolError(str(exc)) from None
        body = body.model_copy(update={"session_end": False})
        return await self._call(ctx, lambda hm, ns: ops.remember(hm, ns, body))

    async def recall(self, question: str, ctx: Context, budget: int = 1000) -> RecallOut:
        """Evidence from long-term memory for a question, packed into ``budget`` tokens."""
        return await self._call(ctx, lambda hm, ns: ops.recall(hm, ns, question, budget=budget))

    async def forget(self, unit_ids: list[str], ctx: Context) -> DeleteOut:
        """Delete memory units (ids from recall) and everything derived from them."""
        return await self._call(ctx, lambda hm, ns: ops.forget(hm, ns, unit_ids))

    async def history(self, unit_id: str, ctx: Context) -> HistoryOut:
        """Every change to a memory unit and to the units it replaced or was replaced by."""
        return await self._call(ctx, lambda hm, ns: ops.history(hm, ns, unit_id))

    async def recent_runs(self, ctx: Context, limit: int = 20) -> RunsOut:
        """The most recent remember and recall runs, newest first (the run ids of traces)."""
        limit = max(1, min(limit, 1000))
        return await self._call(ctx, lambda hm, ns: ops.runs(hm, ns, limit=limit))


def build_mcp(engine: Callable[[], AsyncHypermnesia], tenancy: Tenancy) -> MCPServer:
    """The MCP server: the memory tools over ``engine()`` in the namespaces ``tenancy`` picks."""
    server = MCPServer("hypermnesia", instructions=INSTRUCTIONS, log_level="WARNING")
    tools = MemoryTools(engine, tenancy)
    for tool in (tools.remember, tools.recall, tools.forget, tools.history, tools.recent_runs):
        server.add_tool(tool)
    return server


def _http_request(ctx: Context) -> Request:
    request = ctx.request_context.request
    if not isinstance(request, Request):
        raise ToolError("this server takes its namespace from HTTP requests")
    return request


def _tenant_of(keys: KeyRing | None, request: Request) -> Namespace | str:
    """The request's namespace, or why it has none (a message for the caller)."""
    if keys is not None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        tenant = keys.tenant(key.strip()) if scheme.lower() == "bearer" else None
        return tenant if tenant is not None else "missing or unknown API key"
    user = request.query_params.get("user_id")
    if not user:
        return "local mode: name the namespace in the MCP URL, /mcp?user_id=U[&agent_id=A]"
    try:
        return Namespace(user_id=user, agent_id=request.query_params.get("agent_id") or "default")
    except InvalidNamespaceError as exc:
        return str(exc)


def http_tenancy(keys: KeyRing | None) -> Tenancy:
    """Tenancy over HTTP: the key's namespace, or in local mode the URL's."""

    def tenancy(ctx: Context) -> Namespace:
        found = _tenant_of(keys, _http_request(ctx))
        if isinstance(found, str):
            raise ToolError(found)
        return found

    return tenancy


class _RefuseUnknown:
    """Answers 401 (keys) or 422 (local mode without a namespace) before MCP sees the request."""

    def __init__(self, app: ASGIApp, keys: KeyRing | None) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = _tenant_of(self.keys, Request(scope))
            if isinstance(found, str):
                code, headers = (401, {"WWW-Authenticate": "Bearer"}) if self.keys else (422, {})
                await JSONResponse({"detail": found}, code, headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mcp_http_app(server: MCPServer, keys: KeyRing | None, host: str) -> ASGIApp:
    """The streamable HTTP endpoint as an ASGI app, to route ``MCP_PATH`` to unchanged.

    Stateless, so any worker answers any request. DNS-rebinding protection (Host and Origin
    checks) is on when the service listens on the loopback; on another host, keys guard it.
    """
    local = host in ("127.0.0.1", "localhost", "::1")
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=local,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
    starlette_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, transport_security=security, host=host
    )
    return _RefuseUnknown(starlette_app, keys)
