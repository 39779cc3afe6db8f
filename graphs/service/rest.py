"""The REST routes: remember, recall, forget, history and traces, each in the caller's namespace.

Every route resolves the caller first (:func:`graphs.service.auth.caller`), so a request with no
key or a wrong one is refused before its body is read or anything is written.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from graphs.aio import AsyncHypermnesia
from graphs.service import ops
from graphs.service.auth import Caller, caller
from graphs.service.models import (
    DeleteOut,
    ErrorOut,
    HealthOut,
    HistoryOut,
    RecallIn,
    RecallOut,
    RememberIn,
    RememberOut,
    RunOut,
    RunsOut,
)
from memory.errors import (
    HypermnesiaError,
    InvalidInputError,
    LLMError,
    StoreUnavailableError,
    UnitNotFoundError,
)

__all__ = ["add_error_handlers", "engine", "router"]

log = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown one."},
}
_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A body that cannot be read (not UTF-8)."},
    **_ERRORS,
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Not in the caller's namespace."}
}


def _links(**links: tuple[str, str, str]) -> dict[str, Any]:
    """OpenAPI links (name → operation, parameter, where in this response), so a client or a
    stateful test can follow an answer to the calls it enables."""
    return {
        "links": {
            name: {"operationId": op, "parameters": {param: f"$response.body#{pointer}"}}
            for name, (op, param, pointer) in links.items()
        }
    }


_WRITTEN = _links(
    History=("history", "unit_id", "/decisions/0/unit_id"),
    Forget=("forget", "unit_id", "/decisions/0/unit_id"),
    Trace=("run", "run_id", "/run_id"),
)
_FOUND = _links(Trace=("run", "run_id", "/run_id"))

router = APIRouter()
UserQuery = Annotated[str | None, Query(description="Local mode only: the user.")]
AgentQuery = Annotated[str | None, Query(description="Local mode only: the agent.")]
CallerDep = Annotated[Caller, Depends(caller)]


def engine(request: Request) -> AsyncHypermnesia:
    """The app's engine (``app.state.engine``)."""
    hm: AsyncHypermnesia = request.app.state.engine
    return hm


EngineDep = Annotated[AsyncHypermnesia, Depends(engine)]


@router.get("/healthz", response_model=HealthOut, tags=["service"], operation_id="healthz")
async def healthz(request: Request) -> HealthOut:
    """Liveness: the service answers (no key needed), and which worker process answered."""
    local = request.app.state.keys is None
    return HealthOut(status="ok", mode="local" if local else "keys", worker=os.getpid())


@router.post(
    "/v1/memories",
    response_model=RememberOut,
    status_code=status.HTTP_201_CREATED,
    responses={201: _WRITTEN, **_BODY},
    tags=["memory"],
    operation_id="remember",
)
async def remember(body: RememberIn, who: CallerDep, hm: EngineDep) -> RememberOut:
    """Remember turns of a session: journaled, then built into units, judged and stored."""
    return await ops.remember(hm, who.namespace(body.user_id, body.agent_id), body)


@router.post(
    "/v1/recall",
    response_model=RecallOut,
    responses={200: _FOUND, **_BODY},
    tags=["memory"],
    operation_id="recall",
)
async def recall(body: RecallIn, who: CallerDep, hm: EngineDep) -> RecallOut:
    """Evidence for a question, packed into the token budget, with the judge's verdict."""
    ns = who.namespace(body.user_id, body.agent_id)
    return await ops.recall(
        hm,
        ns,
        body.question,
        budget=body.budget,
        max_iterations=body.max_iterations,
        recipe=body.recipe,
    )


@router.delete(
    "/v1/units/{unit_id}",
    response_model=DeleteOut,
    responses=_ERRORS | _NOT_FOUND,
    tags=["memory"],
    operation_id="forget",
)
async def forget(
    unit_id: str,
    who: CallerDep,
    hm: EngineDep,
    dry_run: Annotated[bool, Query(description="Only report what would be deleted.")] = False,
    user_id: UserQuery = None,
    agent_id: AgentQuery = None,
) -> DeleteOut:
    """Delete a unit and everything derived from it (``dry_run=true`` previews the cascade)."""
    ns = who.namespace(user_id, agent_id, where="query")
    return await ops.forget(hm, ns, [unit_id], dry_run=dry_run)


@router.get(
    "/v1/units/{unit_id}/history",
    response_model=HistoryOut,
    responses=_ERRORS | _NOT_FOUND,
    tags=["memory"],
    operation_id="history",
)
async def history(
    unit_id: str,
    who: CallerDep,
    hm: EngineDep,
    user_id: UserQuery = None,
    agent_id: AgentQuery = None,
) -> HistoryOut:
    """Every change to a unit and to the units it replaced or was replaced by, with their texts."""
    return await ops.history(hm, who.namespace(user_id, agent_id, where="query"), unit_id)


@router.get(
    "/v1/runs", response_model=RunsOut, responses=_ERRORS, tags=["traces"], operation_id="runs"
)
async def runs(
    who: CallerDep,
    hm: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 20,
    user_id: UserQuery = None,
    agent_id: AgentQuery = None,
) -> RunsOut:
    """The namespace's most recent graph runs (without their steps)."""
    return await ops.runs(hm, who.namespace(user_id, agent_id, where="query"), limit=limit)


@router.get(
    "/v1/runs/{run_id}",
    response_model=RunOut,
    responses=_ERRORS | _NOT_FOUND,
    tags=["traces"],
    operation_id="run",
)
async def run(
    run_id: str,
    who: CallerDep,
    hm: EngineDep,
    user_id: UserQuery = None,
    agent_id: AgentQuery = None,
) -> RunOut:
    """One run with every agent step: decision, reason, retrieved ids, LLM calls, fallbacks.
    Another namespace's run is a 404, like a run that does not exist."""
    return await ops.run(hm, who.namespace(user_id, agent_id, where="query"), run_id)


def add_error_handlers(app: FastAPI) -> None:
    """The project's errors as HTTP statuses: bad input 422, unknown id 404, a store server down
    503, a model that failed for good 502; anything else stays a 500."""
    app.add_exception_handler(HypermnesiaError, _engine_error)
    app.add_exception_handler(ValidationError, _invalid_value)


_STATUS: list[tuple[type[HypermnesiaError], int]] = [
    (InvalidInputError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (UnitNotFoundError, status.HTTP_404_NOT_FOUND),
    (StoreUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (LLMError, status.HTTP_502_BAD_GATEWAY),
]


async def _invalid_value(request: Request, exc: Exception) -> JSONResponse:
    """A value the request models let through but the engine's own models refuse."""
    assert isinstance(exc, ValidationError)
    detail = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _engine_error(request: Request, exc: Exception) -> JSONResponse:
    code = next((c for t, c in _STATUS if isinstance(exc, t)), 500)
    if code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        # the caller sees one line; whoever runs the service needs the traceback
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    if code == status.HTTP_422_UNPROCESSABLE_CONTENT:
        detail: Any = [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=code)
    return JSONResponse({"detail": str(exc)}, status_code=code)
