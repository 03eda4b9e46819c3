"""Performance end to end: a FastAPI + SQLAlchemy app with a true N+1 (the real sentry-sdk)
and a page with @sentry/browser in Chromium that calls it, each sending to its own project of
one `spyglass serve`. One performance issue with its evidence, web vitals, and the trace across
both projects, seen in the browser, with screenshots of every performance page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import HERE, Database, SpyglassServer, free_port, wait_for
from tests.e2e.test_digest import shell
from tests.e2e.test_web_pages import EMAIL, PASSWORD, sign_in, watch_for_script

pytestmark = pytest.mark.e2e

JS = HERE / "js"

# The backend: authors and their books, the books loaded lazily one author at a time (the
# N+1), from a table without an index on author_id (so each query takes a few milliseconds).
APP = r"""
import os, sqlite3
import sentry_sdk, uvicorn
from fastapi import FastAPI
from fastapi.responses import FileResponse
from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.pool import StaticPool

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"], traces_sample_rate=1.0, environment="production",
    release="api@1.0.0",
)

class Base(DeclarativeBase):
    pass

class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list["Book"]] = relationship(lazy="select")

class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=False)

engine = create_engine(
    "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
)
Base.metadata.create_all(engine)
with engine.begin() as conn:
    raw = conn.connection.driver_connection
    raw.executemany("INSERT INTO authors (id, name) VALUES (?, ?)",
                    [(n, f"Author {n}") for n in range(1, 13)])
    raw.executemany("INSERT INTO books (title, author_id) VALUES (?, ?)",
                    [(f"Book {n}", 1000 + n % 5000) for n in range(300_000)]
                    + [(f"Book of {n}", n) for n in range(1, 13)])

app = FastAPI()
PAGE = os.environ["PAGE_DIR"]

@app.get("/api/authors")
def authors():
    with Session(engine) as session:
        return [
            {"name": a.name, "books": [b.title for b in a.books]}
            for a in session.scalars(select(Author).order_by(Author.id))
        ]

@app.get("/")
def index():
    return FileResponse(os.path.join(PAGE, "index.html"))

@app.get("/app.js")
def script():
    return FileResponse(os.path.join(PAGE, "app.js"), media_type="text/javascript")

uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
"""

PAGE_JS = """
import * as Sentry from '@sentry/browser';
const params = new URLSearchParams(location.search);
Sentry.init({
  dsn: params.get('dsn'),
  release: 'web@1.0.0',
  environment: 'production',
  integrations: [Sentry.browserTracingIntegration({ idleTimeout: 300 })],
  tracesSampleRate: 1.0,
  tracePropagationTargets: [location.origin],
});
Sentry.getClient().on('spanEnd', (span) => {
  if (span === Sentry.getRootSpan(span)) window.pageloadEnded = true;
});
window.flushSentry = () => Sentry.flush(10000);
fetch('/api/authors').then((r) => r.json()).then((authors) => {
  document.getElementById('authors').textContent = authors.length + ' authors';
});
"""

PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bookshop</title>
<link rel="icon" href="data:,"></head>
<body><h1>The bookshop, with a heading large enough to be the largest contentful paint</h1>
<p id="authors">loading…</p><script src="/app.js"></script></body></html>
"""

HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
# Everything the tests wait for, in one `spyglass shell` (each costs a Django start-up).
STATE = """
import json
from spyglass.issues.models import Issue
from spyglass.performance.models import Span, Transaction
print(json.dumps({
    "tx": [[t.project.slug, t.op, t.name, t.trace_id, t.event_id, t.measurements, t.span_id]
           for t in Transaction.objects.select_related("project").order_by("start")],
    # LCP comes as a span of its own under the page load (Sentry's browser SDK 10 and later).
    "lcp": [[s.segment_id, s.trace_id] for s in Span.objects.filter(op="ui.webvital.lcp")],
    "issues": [[i.project.slug, i.number, i.title, i.times_seen]
               for i in Issue.objects.filter(category="performance").select_related("project")],
}))
"""


def state(server: SpyglassServer) -> dict[str, list[list[Any]]]:
    found: dict[str, list[list[Any]]] = json.loads(shell(server, STATE).strip())
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SpyglassServer, str]]:
    """Spyglass with the page's project (acme/web) and the API's (acme/api), and the FastAPI
    app serving the page and its API. Bundling the page and starting the app overlap with
    Spyglass's own start-up (most of this module's time)."""
    root = tmp_path_factory.mktemp("bookshop")
    (root / "index.html").write_text(PAGE_HTML)
    (root / "app.py").write_text(APP)
    esbuild = JS / "node_modules" / ".bin" / "esbuild"
    assert esbuild.exists(), f"run `npm ci` in {JS}"
    bundling = subprocess.Popen(
        [str(esbuild), "--bundle", "--format=iife", "--target=es2020", "--log-level=warning",
         f"--outfile={root / 'app.js'}"],
        stdin=subprocess.PIPE, cwd=JS, text=True,
    )  # fmt: skip
    assert bundling.stdin is not None
    bundling.stdin.write(PAGE_JS)
    bundling.stdin.close()
    server = SpyglassServer(Database(), "performance", digest=True)
    app: subprocess.Popen[bytes] | None = None
    log = (root / "app.log").open("wb")
    try:
        server.create_project()  # acme/web: the browser page
        server.manage("createuser", "--email", EMAIL, "--password", PASSWORD)
        out = server.manage("project", "create", "--org", "acme", "--name", "api", "--owner", EMAIL)
        assert bundling.wait(120) == 0
        port = free_port()
        env = dict(
            os.environ, SENTRY_DSN=out.strip().splitlines()[-1], PAGE_DIR=str(root), PORT=str(port)
        )
        app = subprocess.Popen(
            [sys.executable, str(root / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        server.start()
        url = f"http://127.0.0.1:{port}"

        def up() -> bool | None:
            assert app is not None and app.poll() is None, (root / "app.log").read_text()
            try:
                return httpx.get(f"{url}/", timeout=1).status_code == 200 or None
            except httpx.HTTPError:
                return None

        wait_for(up, "the bookshop app to start", 60)
        yield server, url
    finally:
        if app is not None:
            app.terminate()
            app.wait(10)
        log.close()
        server.shutdown()
        server.database.drop()


@pytest.fixture(scope="module")
def server(stack: tuple[SpyglassServer, str]) -> SpyglassServer:
    return stack[0]


@pytest.fixture(scope="module")
def app_url(stack: tuple[SpyglassServer, str]) -> str:
    return stack[1]


@pytest.fixture(scope="module")
def loaded(server: SpyglassServer, app_url: str, browser: Browser) -> dict[str, list[list[Any]]]:
    """The page loaded twice in Chromium (each load calls the API once); everything sent and
    digested. Returns what is stored (see STATE)."""
    for _ in range(2):
        page = browser.new_page()
        page.goto(f"{app_url}/?dsn={server.dsn}")
        expect(page.locator("#authors")).to_have_text("12 authors")
        page.wait_for_function("window.pageloadEnded === true", timeout=30_000)
        # The SDK reports LCP and CLS (as spans of their own) when the page is hidden.
        page.evaluate(HIDE)
        assert page.evaluate("window.flushSentry()") is True
        page.close()

    def everything() -> dict[str, list[list[Any]]] | None:
        found = state(server)
        pages = [r for r in found["tx"] if r[0] == "web" and r[1] == "pageload"]
        calls = [r for r in found["tx"] if r[0] == "api" and r[2] == "/api/authors"]
        counted = [i for i in found["issues"] if i[3] >= 2]
        measured = [r for r in pages if "lcp" in r[5]]  # LCP folded into the page load
        if len(pages) >= 2 and len(calls) >= 2 and len(measured) >= 2 and counted:
            return found
        return None

    return wait_for(everything, "both pages' and API calls' transactions, LCP and the issue")


def signed_in(browser: Browser, server: SpyglassServer, errors: list[str]) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    watch_for_script(page)
    sign_in(page, server)
    return page


def test_a_true_n_plus_one_becomes_one_performance_issue_with_its_evidence_shown(
    server: SpyglassServer,
    loaded: dict[str, list[list[Any]]],
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert [(i[0], i[2], i[3]) for i in loaded["issues"]] == [("api", "N+1 Query", 2)]
    shots = tmp_path_factory.mktemp("performance-issue", numbered=False)
    errors: list[str] = []
    page = signed_in(browser, server, errors)
    page.goto(f"{server.base_url}/acme/api/issues/?query=issue.category%3Aperformance")
    page.get_by_role("link", name="N+1 Query").first.click()
    evidence = page.locator(".evidence")
    expect(evidence).to_contain_text("Span evidence")
    expect(evidence).to_contain_text("/api/authors")
    expect(evidence).to_contain_text("Repeating spans (12)")
    expect(evidence).to_contain_text("FROM books")
    expect(evidence).to_contain_text("FROM authors")  # the preceding (source) query
    expect(evidence.locator("h2")).to_contain_text("Occurrence")
    # The transaction's tags, as an error's event shows its own, and its raw JSON.
    expect(evidence.locator(".occurrence-tags")).to_contain_text("transaction.op")
    expect(evidence.locator(".occurrence-tags")).to_contain_text("http.server")
    raw = evidence.get_by_role("link", name="Raw JSON").get_attribute("href")
    assert raw and len(page.request.get(server.base_url + raw).json()["spans"]) == 13
    page.screenshot(path=str(shots / "issue.png"), full_page=True)
    issue_url = page.url
    # The older of the two occurrences, then back; the events list lists both.
    evidence.get_by_role("link", name="Older").click()
    expect(page.locator(".evidence .event-nav")).to_contain_text("Latest")
    expect(page.locator(".evidence")).to_contain_text("Repeating spans (12)")
    page.get_by_role("link", name="All events of this issue").click()
    expect(page.locator(".occurrence-list tbody tr")).to_have_count(2)
    page.screenshot(path=str(shots / "issue-events.png"), full_page=True)
    page.goto(issue_url)
    evidence = page.locator(".evidence")
    evidence.get_by_role("link", name="/api/authors", exact=True).click()
    expect(page.locator(".waterfall")).to_contain_text("FROM books")
    expect(page.locator(".wf-row")).to_have_count(14, timeout=5000)  # root, authors, 12 books
    page.screenshot(path=str(shots / "event.png"), full_page=True)
    page.locator(".wf-row summary").nth(2).click()
    expect(page.locator(".wf-row details[open] .kv")).to_contain_text("Self time")
    page.screenshot(path=str(shots / "event-open.png"))
    assert not errors, errors
    print(f"screenshots in {shots}")


def test_the_trace_spans_the_browser_and_the_backend_project(
    server: SpyglassServer,
    loaded: dict[str, list[list[Any]]],
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    page_load = next(r for r in loaded["tx"] if r[1] == "pageload")
    trace_id = page_load[3]
    api = [r for r in loaded["tx"] if r[0] == "api" and r[3] == trace_id]
    assert api, "the API call continued the page's trace"
    shots = tmp_path_factory.mktemp("performance-trace", numbered=False)
    errors: list[str] = []
    page = signed_in(browser, server, errors)
    page.goto(f"{server.base_url}/acme/traces/{trace_id}/")
    rows = page.locator(".trace-transaction")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("web")
    expect(rows.nth(1)).to_contain_text("api")
    expect(rows.nth(1)).to_contain_text("/api/authors")
    assert "depth-1" in (rows.nth(1).get_attribute("class") or "")  # under the page load
    page.screenshot(path=str(shots / "trace.png"), full_page=True)
    assert not errors, errors
    print(f"screenshots in {shots}")


def test_web_vitals_of_the_page_load_are_shown_rated(
    server: SpyglassServer,
    loaded: dict[str, list[list[Any]]],
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    loads = [r for r in loaded["tx"] if r[1] == "pageload"]
    # Page loads are named by the URL path, as Sentry shows them, not the SDK's "Pageload".
    assert {r[2] for r in loads} == {"/"}
    for load in loads:
        # FCP and TTFB come on the page load, LCP as a span of its own, folded in.
        assert {"fcp", "ttfb", "lcp"} <= set(load[5]), load[5]
        assert load[5]["lcp"]["unit"] == "millisecond" and load[5]["lcp"]["value"] > 0
    segment, trace_id = loaded["lcp"][0]
    pages = {(r[3], r[6]) for r in loads}
    assert (trace_id, segment) in pages  # under one of the page loads
    shots = tmp_path_factory.mktemp("performance-vitals", numbered=False)
    errors: list[str] = []
    page = signed_in(browser, server, errors)
    page.goto(f"{server.base_url}/acme/web/performance/vitals/")
    card = page.locator(".vital").first
    expect(card).to_contain_text("LCP")
    expect(card.locator(".vital-rating")).to_have_text("Good")
    expect(page.locator(".vital").nth(1).locator(".vital-rating")).to_have_text("Good")  # FCP
    expect(page.locator(".perf-table")).to_contain_text("2")  # two loads of the page
    page.screenshot(path=str(shots / "vitals.png"), full_page=True)
    assert not errors, errors
    print(f"screenshots in {shots}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_the_overview_summary_and_settings(
    server: SpyglassServer,
    loaded: dict[str, list[list[Any]]],
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
    scheme: str,
) -> None:
    shots = tmp_path_factory.mktemp(f"performance-{scheme}", numbered=False)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/api/issues/")
    page.get_by_role("link", name="Performance", exact=True).click()
    table = page.locator(".perf-table")
    expect(table).to_contain_text("/api/authors")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    page.get_by_label("Search").fill("transaction.op:nothing")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".card").last).to_contain_text("No transactions")
    page.go_back()
    table.get_by_role("link", name="/api/authors").click()
    expect(page.locator(".stats")).to_contain_text("Transactions")
    expect(page.locator("body")).to_contain_text("db")
    page.screenshot(path=str(shots / "summary.png"), full_page=True)
    page.goto(f"{server.base_url}/acme/api/performance/settings/")
    expect(page.locator("fieldset.detector")).to_have_count(11)  # Apdex, then 10 detectors
    expect(page.get_by_label("Apdex threshold (ms)")).to_have_value("300")
    nav = page.locator(".settings-nav")
    expect(nav.locator('[aria-current="page"]')).to_have_text("Performance")
    page.screenshot(path=str(shots / "settings.png"), full_page=True)
    context.close()
    assert not errors, errors
    print(f"screenshots in {shots}")
