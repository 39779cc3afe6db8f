"""The trace viewer: server-rendered pages under ``/ui/`` on the service's own app.

``/ui/`` lists runs, ``/ui/runs/{run_id}`` shows one, ``/ui/runs/{run_id}/replay?recipe=NAME``
replays a read and shows both evidence lists side by side, ``/ui/units/{unit_id}`` shows a unit
with its history, and ``/ui/graph?unit=ID`` (or ``entity=NAME``) draws the hypergraph around it.

Who may see what is the REST service's rule (:func:`graphs.service.auth.caller`): with a keys file
a page needs the key, which ``/ui/login`` asks for once and keeps in the ``hypermnesia_key``
cookie (HttpOnly, SameSite=Strict); every page then shows that key's namespace only. Without one
(local mode, loopback only) the pages show every namespace of the data folder. Pages carry no
script, and their Content-Security-Policy allows none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from graphs.aio import AsyncHypermnesia
from graphs.client import Hypermnesia
from graphs.replay import ReadStrategy, Replay, replay
from graphs.service.auth import KEY_COOKIE, KeyRing, caller
from graphs.service.rest import engine
from graphs.service.viewer_pages import RunFilter, Scope, graph_page, run_page, runs_page, unit_page
from memory.errors import HypermnesiaError, InvalidInputError, UnitNotFoundError
from memory.model import MemoryUnit

__all__ = ["LoginRequired", "add_viewer", "router"]

T = TypeVar("T")
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_COOKIE_DAYS = 30

# Every template is escaped, whatever its extension (select_autoescape would skip the .svg one).
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
)
router = APIRouter(prefix="/ui", include_in_schema=False)


class LoginRequired(Exception):
    """A viewer page asked for without a valid key (keys mode): the browser goes to the login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def viewer_scope(request: Request) -> Scope:
    """The caller's scope, by the service's own rule; no key or a bad one goes to the login."""
    try:
        who = caller(request)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_401_UNAUTHORIZED:
            raise LoginRequired(request.url.path + _query(request)) from None
        raise
    return Scope(who.tenant)


def _query(request: Request) -> str:
    return f"?{request.url.query}" if request.url.query else ""


ScopeDep = Annotated[Scope, Depends(viewer_scope)]
EngineDep = Annotated[AsyncHypermnesia, Depends(engine)]


def _page(
    request: Request, name: str, scope: Scope | None, status_code: int = 200, **data: Any
) -> Response:
    context = {"scope": scope, "keys": request.app.state.keys is not None, **data}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def _gather(
    request: Request, hm: AsyncHypermnesia, scope: Scope, read: Callable[[Hypermnesia], T]
) -> T | Response:
    """``read(engine)`` on the engine; a missing run or unit, or a bad argument, as a page."""
    try:
        return await hm.read(read)
    except HypermnesiaError as exc:
        return _error(request, scope, exc)


def _error(request: Request, scope: Scope, exc: HypermnesiaError) -> Response:
    code = status.HTTP_404_NOT_FOUND if isinstance(exc, UnitNotFoundError) else 422
    if not isinstance(exc, UnitNotFoundError | InvalidInputError):
        raise exc
    return _page(request, "error.html", scope, code, message=str(exc), code=code)


@router.get("/", response_class=HTMLResponse)
async def runs(
    request: Request,
    scope: ScopeDep,
    hm: EngineDep,
    ns: str = "",
    graph: str = "",
    status_: Annotated[str, Query(alias="status")] = "",
    since: str = "",
    until: str = "",
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """The runs, newest first, filtered by namespace, graph, status, time and question text."""
    try:  # a date field left empty in the form is sent as ""
        flt = RunFilter(ns, graph, status_, _day(since, "since"), _day(until, "until"), q, page)
    except InvalidInputError as exc:
        return _error(request, scope, exc)
    data = await _gather(request, hm, scope, lambda e: runs_page(e, scope, flt))
    return data if isinstance(data, Response) else _page(request, "runs.html", scope, **data)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run(
    request: Request,
    run_id: str,
    scope: ScopeDep,
    hm: EngineDep,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """One run: the step timeline, the evidence, every candidate explained, every LLM call."""
    data = await _gather(request, hm, scope, lambda e: run_page(e, scope, run_id, page))
    return data if isinstance(data, Response) else _page(request, "run.html", scope, **data)


@router.get("/runs/{run_id}/replay", response_class=HTMLResponse)
async def replay_page(
    request: Request, run_id: str, scope: ScopeDep, hm: EngineDep, recipe: str = "full"
) -> Response:
    """The recorded read run again with ``recipe`` now, beside what it recorded."""

    def read(e: Hypermnesia) -> tuple[Replay, dict[str, MemoryUnit]]:
        done = replay(e, run_id, ReadStrategy(recipe=recipe), namespace=scope.tenant)
        ids = [r.unit_id for r in done.diff.rows]
        return done, {u.id: u for u in e.store.get(done.recorded.namespace, ids)}

    data = await _gather(request, hm, scope, read)
    if isinstance(data, Response):
        return data
    done, units = data
    rows = {r.unit_id: r for r in done.diff.rows}
    return _page(request, "replay.html", scope, replay=done, rows=rows, units=units)


@router.get("/units/{unit_id}", response_class=HTMLResponse)
async def unit(
    request: Request, unit_id: str, scope: ScopeDep, hm: EngineDep, ns: str = ""
) -> Response:
    """A unit: text, provenance, validity, history as diffs, the runs that named it, its graph."""
    data = await _gather(request, hm, scope, lambda e: unit_page(e, scope, unit_id, ns or None))
    return data if isinstance(data, Response) else _page(request, "unit.html", scope, **data)


@router.get("/graph", response_class=HTMLResponse)
async def graph(
    request: Request,
    scope: ScopeDep,
    hm: EngineDep,
    unit: str = "",
    entity: str = "",
    hops: Annotated[int, Query(ge=1, le=2)] = 1,
    ns: str = "",
) -> Response:
    """The hypergraph a hop or two around a unit or an entity, as an SVG picture."""

    def read(e: Hypermnesia) -> Any:
        return graph_page(
            e, scope, unit_id=unit or None, entity=entity or None, hops=hops, asked=ns or None
        )

    data = await _gather(request, hm, scope, read)
    if isinstance(data, Response):
        return data
    hood, drawing, key = data
    centre = {"unit": unit} if unit else {"entity": entity}
    return _page(
        request, "graph.html", scope, hood=hood, drawing=drawing, ns=key, hops=hops, centre=centre
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/ui/") -> Response:
    """Ask for an API key (keys mode); local mode needs none."""
    if request.app.state.keys is None:
        return RedirectResponse("/ui/", status.HTTP_303_SEE_OTHER)
    return _page(request, "login.html", None, next=_local(next), failed=False)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Keep a valid key in the cookie and go on to the page asked for; a bad one asks again."""
    keys: KeyRing | None = request.app.state.keys
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    target = _local((form.get("next") or ["/ui/"])[0])
    if keys is None:
        return RedirectResponse("/ui/", status.HTTP_303_SEE_OTHER)
    if not key or keys.tenant(key) is None:
        return _page(request, "login.html", None, 401, next=target, failed=True)
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        KEY_COOKIE,
        key,
        max_age=_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/logout")
async def logout() -> Response:
    response = RedirectResponse("/ui/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(KEY_COOKIE)
    return response


def _local(target: str) -> str:
    """Only a path of the viewer itself is followed after logging in (no open redirect)."""
    return target if target.startswith("/ui/") and not target.startswith("/ui//") else "/ui/"


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(
        "/ui/login?" + urlencode({"next": exc.next_url}), status.HTTP_303_SEE_OTHER
    )


def add_viewer(app: FastAPI) -> None:
    """Serve the viewer on ``app`` (the service's own: same engine, same keys)."""
    app.include_router(router)
    app.add_exception_handler(LoginRequired, _to_login)


def _day(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


_FILTERS: dict[str, Callable[..., Any]] = {
    "when": _when,
    "short": _short,
    "num": _num,
    "q": lambda value: quote(str(value), safe=""),
}
templates.env.filters.update(_FILTERS)
