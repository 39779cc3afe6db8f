"""The trace viewer in process (FastAPI's test client over the real app and engine): what each page
shows, local mode and keys mode, that a key never sees another tenant's runs or units, escaping,
and how long a run with 200 explained candidates takes to render."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evals.bench.viewer import record_large_run
from graphs.aio import AsyncHypermnesia
from graphs.client import Hypermnesia
from graphs.service import create_app
from graphs.service.auth import KEY_COOKIE, KeyRing, key_digest
from memory.embeddings import HashingEmbedder
from memory.model import Namespace, Turn
from tests.agent_fixtures import SAM, ingest_sample

MAX = Namespace(user_id="max", agent_id="bot")
QUESTION = "Where does Maya work?"
MAX_SECRET = "Max keeps the spare key under the blue flowerpot."


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypermnesia]:
    """Sam's sample conversation and one secret of Max's, a read run each."""
    hm = Hypermnesia.open(tmp_path_factory.mktemp("viewer"), embedder=HashingEmbedder(), llm=None)
    ingest_sample(hm)
    when = datetime(2023, 7, 1, 9, 0, tzinfo=UTC)
    hm.remember(MAX, [Turn(id="M1:1", session_id="M1", speaker="Max", text=MAX_SECRET,
                           session_time=when)])  # fmt: skip
    hm.flush()
    hm.recall(SAM, QUESTION, budget=100)  # small: some candidates are skipped over budget
    hm.recall(MAX, "Where is the spare key?")
    yield hm
    hm.close()


@pytest.fixture(scope="module")
def local(engine: Hypermnesia) -> Iterator[TestClient]:
    with TestClient(create_app(AsyncHypermnesia(engine))) as client:
        yield client


@pytest.fixture(scope="module")
def keyed(engine: Hypermnesia) -> Iterator[TestClient]:
    keys = KeyRing({key_digest("sam-key"): SAM, key_digest("max-key"): MAX})
    with TestClient(create_app(AsyncHypermnesia(engine), keys=keys)) as client:
        yield client


def _runs(engine: Hypermnesia, ns: Namespace, graph: str) -> list[str]:
    return [r.run_id for r in engine.traces.list_runs(ns.key, limit=100) if r.graph == graph]


def _unit(engine: Hypermnesia, ns: Namespace, text: str) -> str:
    return next(u.id for u in engine.store.units(ns) if text in u.text)


# -- local mode ----------------------------------------------------------------------------------


def test_the_run_list_shows_every_namespace_and_filters(
    local: TestClient, engine: Hypermnesia
) -> None:
    page = local.get("/ui/")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "sam/default" in page.text and "max/bot" in page.text and QUESTION in page.text
    only_max = local.get("/ui/", params={"ns": "max/bot"}).text
    assert QUESTION not in only_max and "spare key" in only_max
    reads = local.get("/ui/", params={"graph": "read", "q": "MAYA"}).text
    assert QUESTION in reads and _runs(engine, SAM, "write")[0] not in reads
    assert "No run matches" in local.get("/ui/", params={"since": "2999-01-01"}).text
    blank = local.get("/ui/", params={"ns": "", "since": "", "until": "", "q": ""})  # the form
    assert blank.status_code == 200 and QUESTION in blank.text
    bad = local.get("/ui/", params={"until": "yesterday"})
    assert bad.status_code == 422 and "until: &#39;yesterday&#39; is not a date" in bad.text
    first = local.get("/ui/", params={"ns": "sam/default", "page": 2}).text
    assert "No run matches" in first  # five runs fit one page


def test_a_read_run_shows_evidence_candidates_and_a_replay_button(
    local: TestClient, engine: Hypermnesia
) -> None:
    run_id = _runs(engine, SAM, "read")[0]
    page = local.get(f"/ui/runs/{run_id}").text
    run = engine.traces.get(run_id)
    evidence = [uid for s in run.steps if s.agent == "retriever" for uid, _ in s.retrieved]
    assert evidence and all(uid[:14] in page for uid in evidence)
    assert "Flour Bakery" in page  # the evidence's text, looked up now
    outcomes = {c.outcome for s in run.steps if s.agent == "retriever" for c in s.candidates}
    assert {"packed", "skipped: over budget"} <= outcomes  # what the page has to show
    shown = html.unescape(page)  # "upgraded its turn's fact…" is escaped in the page
    assert "Router weights" in page and all(outcome in shown for outcome in outcomes)
    assert 'action="/ui/runs/' in page and 'name="recipe"' in page and "turns-only" in page


def test_a_write_run_shows_the_judges_decisions(local: TestClient, engine: Hypermnesia) -> None:
    run_id = _runs(engine, SAM, "write")[-1]
    page = local.get(f"/ui/runs/{run_id}").text
    assert 'class="decisions"' in page and "raw evidence" in page


def test_a_unit_page_shows_provenance_history_as_a_diff_runs_and_graph(
    local: TestClient, engine: Hypermnesia
) -> None:
    boston = next(u for u in engine.store.units(SAM) if not u.is_current and "Boston" in u.text)
    page = local.get(f"/ui/units/{boston.id}", params={"ns": SAM.key}).text
    assert "supersede" in page and "<del>" in page and "<ins>" in page and "Denver" in page
    assert boston.provenance[0] in page and "I just moved into a flat in Boston" in page
    assert "<svg" in page and "Runs that named it" in page
    # without ns, local mode looks in every namespace it knows
    assert local.get(f"/ui/units/{boston.id}").status_code == 200


def test_the_graph_around_an_entity_is_an_svg_with_links(local: TestClient) -> None:
    page = local.get("/ui/graph", params={"entity": "Maya", "ns": SAM.key, "hops": 2})
    assert page.status_code == 200
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert ">Maya<" in svg and "/ui/units/" in svg and "/ui/graph?entity=" in svg
    missing = local.get("/ui/graph", params={"entity": "Nobody", "ns": SAM.key})
    assert missing.status_code == 404 and "no entity" in missing.text


def test_replay_shows_both_lists_side_by_side(local: TestClient, engine: Hypermnesia) -> None:
    run_id = _runs(engine, SAM, "read")[0]
    before = len(_runs(engine, SAM, "read"))
    page = local.get(f"/ui/runs/{run_id}/replay", params={"recipe": "turns-only"})
    assert page.status_code == 200
    assert 'id="before"' in page.text and 'id="after"' in page.text and "dropped" in page.text
    assert len(_runs(engine, SAM, "read")) == before + 1  # the replay is a run of its own
    bad = local.get(f"/ui/runs/{run_id}/replay", params={"recipe": "nope"})
    assert bad.status_code == 422 and "unknown retrieval recipe" in bad.text


def test_unknown_ids_are_pages_saying_so(local: TestClient) -> None:
    for url in ("/ui/runs/run-nope", "/ui/units/u-nope", "/ui/runs/run-nope/replay"):
        page = local.get(url)
        assert page.status_code == 404 and "<html" in page.text, url


def test_stored_text_is_shown_as_written_never_as_markup(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with Hypermnesia.open(tmp_path, embedder=HashingEmbedder(), llm=None) as hm:
        hm.remember(SAM, [Turn(id="X1:1", session_id="X1", speaker="Sam", text=evil)])
        recalled = hm.recall(SAM, "alert script")
        with TestClient(create_app(AsyncHypermnesia(hm))) as client:
            uid = _unit(hm, SAM, "<script>")
            pages = [
                client.get(f"/ui/units/{uid}", params={"ns": SAM.key}).text,
                client.get(f"/ui/runs/{recalled.run_id}").text,
                client.get("/ui/graph", params={"unit": uid, "ns": SAM.key}).text,
            ]
    for page in pages:
        assert "<script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page


# -- keys mode ------------------------------------------------------------------------------------


def _login(client: TestClient, key: str) -> None:
    client.cookies.clear()
    done = client.post("/ui/login", data={"key": key, "next": "/ui/"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/ui/"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    client.cookies.set(KEY_COOKIE, key)


def test_without_a_key_the_viewer_asks_for_one(keyed: TestClient) -> None:
    keyed.cookies.clear()
    asked = keyed.get("/ui/runs/x", params={"page": 2}, follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/ui/login?next=%2Fui%2Fruns%2Fx%3Fpage%3D2"
    assert 'type="password"' in keyed.get("/ui/login").text
    wrong = keyed.post("/ui/login", data={"key": "guess"}, follow_redirects=False)
    assert wrong.status_code == 401 and "not known" in wrong.text
    assert KEY_COOKIE not in wrong.headers.get("set-cookie", "")
    away = keyed.post(
        "/ui/login", data={"key": "sam-key", "next": "https://elsewhere.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert away.headers["location"] == "/ui/"
    keyed.cookies.clear()  # drop the cookie that login set
    keyed.cookies.set(KEY_COOKIE, "guess")
    assert keyed.get("/ui/", follow_redirects=False).status_code == 303


def test_a_key_sees_its_own_runs_and_units_only(keyed: TestClient, engine: Hypermnesia) -> None:
    max_run = _runs(engine, MAX, "read")[0]
    max_unit = _unit(engine, MAX, "flowerpot")
    sam_unit = _unit(engine, SAM, "Flour Bakery")
    _login(keyed, "sam-key")
    listing = keyed.get("/ui/", params={"ns": MAX.key}).text
    assert "max/bot" not in listing and max_run not in listing and QUESTION in listing
    pages = [
        keyed.get(f"/ui/runs/{max_run}"),
        keyed.get(f"/ui/runs/{max_run}/replay", params={"recipe": "full"}),
        keyed.get(f"/ui/units/{max_unit}", params={"ns": MAX.key}),
        keyed.get("/ui/graph", params={"unit": max_unit, "ns": MAX.key}),
    ]
    for page in pages:
        assert page.status_code == 404
        assert "flowerpot" not in page.text and "max/bot" not in page.text
    entity = keyed.get("/ui/graph", params={"entity": "Max", "ns": MAX.key})
    assert "flowerpot" not in entity.text
    assert keyed.get(f"/ui/units/{sam_unit}").status_code == 200
    _login(keyed, "max-key")
    assert "flowerpot" in keyed.get(f"/ui/units/{max_unit}").text
    assert keyed.get(f"/ui/units/{sam_unit}", params={"ns": SAM.key}).status_code == 404


# -- a large run ----------------------------------------------------------------------------------


def test_a_run_with_200_candidates_a_pass_shows_them_all_on_one_page(
    local: TestClient, engine: Hypermnesia
) -> None:
    """How fast it renders is measured by ``app.py bench viewer``; here, that all of it does."""
    units = [u.id for u in engine.store.units(SAM)]
    record_large_run(engine.traces, "run-large", SAM.key, units)
    page = local.get("/ui/runs/run-large")
    rows = re.findall(r'<tr class="(?:packed)?">', page.text)
    assert page.status_code == 200 and len(rows) == 3 * 200
    assert "(no longer stored)" in page.text  # ids past the stored units are still listed
    assert "candidates page" not in page.text
