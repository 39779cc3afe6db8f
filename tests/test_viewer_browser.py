"""The trace viewer in a real headless Chromium (Debian's, driven by Playwright) against a real
``app.py serve``: open the run list, a read run, a unit's history, the hypergraph, and a replay;
with a keys file, log in with one tenant's key and try to reach the other tenant's pages.

Screenshots of each page are kept in ``test-artifacts/viewer/`` (or ``$HYPERMNESIA_SCREENSHOTS``);
the test prints where.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.agent_fixtures import SAMPLE
from tests.service_server import ROOT, Service, running_service, service_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
QUESTION = "Where does Sam live now?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    """The sample conversation ingested by the command line, then served; a recall's run id."""
    tmp = tmp_path_factory.mktemp("browser")
    ingest = [sys.executable, "app.py", "ingest", str(SAMPLE), "--user", "sam"]
    subprocess.run(ingest, cwd=ROOT, env=service_env(tmp / "data"), check=True, capture_output=True)
    with running_service(tmp) as svc:
        body = {"question": QUESTION, "user_id": "sam", "budget": 400}
        recalled = httpx.post(f"{svc.url}/v1/recall", json=body, timeout=120)
        recalled.raise_for_status()
        yield svc, recalled.json()["run_id"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("HYPERMNESIA_SCREENSHOTS") or ROOT / "test-artifacts" / "viewer")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_browse_a_read_its_unit_history_the_graph_and_a_replay(
    served: tuple[Service, str], browser: Browser, shots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import expect

    svc, run_id = served
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{svc.url}/ui/")
    expect(page.locator("#runs")).to_contain_text(QUESTION)
    expect(page.locator("#runs tr.write")).to_have_count(4)  # one write run per session
    page.screenshot(path=shots / "1-runs.png", full_page=True)
    page.fill("input[name=q]", "live NOW")
    page.select_option("select[name=graph]", "read")
    page.get_by_role("button", name="Filter").click()  # the empty date fields are sent too
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    expect(page.locator("#runs")).to_contain_text(QUESTION)

    page.get_by_role("link", name=run_id).click()
    expect(page.locator("h1")).to_contain_text(run_id)
    evidence = page.locator("#evidence tbody tr")
    expect(page.locator("#evidence")).to_contain_text("Denver")
    expect(page.locator("table.candidates").first).to_contain_text("packed")
    page.screenshot(path=shots / "2-run.png", full_page=True)

    # a question about the present: the current fact comes first, then its source turn
    evidence.filter(has_text="moved to Denver").first.locator("a.unit-link").click()
    expect(page.locator("#unit-fields")).to_contain_text("fact")
    expect(page.locator("#unit-text")).to_contain_text("Denver")
    history = page.locator("#history")
    expect(history.locator("tr.supersede")).to_have_count(1)
    expect(history.locator("del", has_text="Boston")).to_have_count(1)  # the word diff
    expect(history.locator("ins", has_text="Denver")).to_have_count(1)
    expect(page.locator("#provenance")).to_contain_text("Denver")
    page.screenshot(path=shots / "3-unit.png", full_page=True)
    page.locator("#provenance a.unit-link").first.click()
    expect(page.locator("#unit-fields")).to_contain_text("turn")
    page.locator("#drawn tr.fact").filter(has_text="Denver").locator("a.unit-link").click()
    expect(page.locator("#unit-text")).to_contain_text("Denver")

    page.get_by_role("link", name="Two hops out").click()
    expect(page.locator("svg.hypergraph a.vertex").first).to_be_visible()
    expect(page.locator("#graph-units tbody tr")).not_to_have_count(0)
    page.screenshot(path=shots / "4-graph.png", full_page=True)

    page.goto(f"{svc.url}/ui/runs/{run_id}")
    page.select_option("select[name=recipe]", "no-rerank")  # the fused order packs other units
    page.get_by_role("button", name="Replay and compare").click()
    summary = page.locator("#replay-summary")
    expect(summary).to_contain_text("replayed now with recipe no-rerank")
    after = page.locator("#after tbody tr")
    expect(after.filter(has_text="fact").first).to_be_visible()
    for change, side in (("added", "#after"), ("dropped", "#before"), ("moved", "#after")):
        shown = int(summary.locator(f".{change}").inner_text().split()[0])
        expect(page.locator(f"{side} tr.{change}")).to_have_count(shown)
    assert int(summary.locator(".added").inner_text().split()[0]) > 0
    page.screenshot(path=shots / "5-replay.png", full_page=True)
    page.close()
    with capsys.disabled():
        print(f"\nviewer screenshots: {shots}")


def test_a_key_logs_in_and_cannot_reach_another_tenants_pages(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    from playwright.sync_api import expect

    with running_service(tmp_path, users=["ann", "ben"]) as svc:
        runs = {}
        for user, text in (("ann", "My passport is in the red drawer."),
                           ("ben", "The spare key is under the blue flowerpot.")):  # fmt: skip
            turns = [{"speaker": user.title(), "text": text}]
            done = httpx.post(
                f"{svc.url}/v1/memories", json={"turns": turns}, headers=svc.headers(user)
            )
            done.raise_for_status()
            body = {"question": f"Where is it? {text}"}
            asked = httpx.post(f"{svc.url}/v1/recall", json=body, headers=svc.headers(user))
            runs[user] = asked.json()["run_id"]
        page = browser.new_page(viewport={"width": 1400, "height": 700})
        page.goto(f"{svc.url}/ui/runs/{runs['ben']}")
        expect(page).to_have_url(re.compile(r"/ui/login\?next="))
        page.fill("input[name=key]", "not a key")
        page.get_by_role("button", name="Show my traces").click()
        expect(page.locator("#error")).to_contain_text("not known")
        page.fill("input[name=key]", svc.keys["ann"])
        page.get_by_role("button", name="Show my traces").click()
        # the page asked for was ben's run: for ann it does not exist
        expect(page.locator("h1")).to_have_text("Not found")
        expect(page.locator("body")).not_to_contain_text("flowerpot")
        page.screenshot(path=shots / "6-other-tenant.png", full_page=True)
        page.goto(f"{svc.url}/ui/?ns=ben/default")
        expect(page.locator("#runs")).to_contain_text("red drawer")
        expect(page.locator("#runs")).not_to_contain_text("flowerpot")
        expect(page.locator("header")).to_contain_text("namespace ann/default")
        page.screenshot(path=shots / "7-tenant-runs.png", full_page=True)
        page.goto(f"{svc.url}/ui/runs/{runs['ann']}")
        expect(page.locator("#evidence")).to_contain_text("red drawer")
        page.close()
