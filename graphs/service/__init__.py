"""The service: one FastAPI app serving REST (API keys → tenants) and MCP over streamable HTTP.

``create_app`` builds it; ``app.py serve`` runs it with uvicorn and ``app.py mcp`` serves the same
MCP tools over stdio.
"""

from __future__ import annotations

from graphs.service.app import create_app, create_app_from_env
from graphs.service.auth import Caller, KeyRing, caller

__all__ = ["Caller", "KeyRing", "caller", "create_app", "create_app_from_env"]
