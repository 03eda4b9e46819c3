"""Hostile event data runs nothing, on every page that shows event data (issue 4's security bar).

The real sentry-sdk sends events whose message, exception, tags (keys and values), frames,
breadcrumbs, request (with `javascript:` / `data:` URLs in several disguises), user, contexts,
extra, release, environment and transaction carry script payloads, plus a performance
transaction whose name and span descriptions carry them too. Signed in, Chromium opens every
page showing that data and checks on each: no payload ran (``window.__xss`` unset, no dialog),
no console error, no element carries an event handler attribute, no inline script or iframe
was injected, every link is http(s) or relative, and the hostile text is visible as text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import Database, SpyglassServer, wait_for
from tests.e2e.test_digest import shell
from tests.e2e.test_web_pages import EMAIL, PASSWORD, sign_in, watch_for_script

pytestmark = pytest.mark.e2e

SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'
SVG = '<svg onload="window.__xss=3">'
JS_URL = "javascript:window.__xss=4"
IFRAME = '\'"><iframe srcdoc="<script>parent.__xss=5</script>">'
ALL = SCRIPT + IMG + SVG + IFRAME
# request.url of the events of the "hostile urls" issue: every disguise of a script URL.
URLS = [
    JS_URL,
    "JaVaScRiPt:window.__xss=4",
    " javascript:window.__xss=4",
    "java\tscript:window.__xss=4",
    "&#106;avascript:window.__xss=4",
    "javascript&colon;window.__xss=4",
    "data:text/html,<script>window.__xss=6</script>",
    "DATA:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9Njwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/" + SCRIPT,
]
TRANSACTION = "/checkout/" + SCRIPT + IMG
TITLE = f"RuntimeError: {SCRIPT}{IMG}"  # the start of the (shortened) issue title

# Run by the real sentry-sdk from a file (so frames have source context lines holding ALL).
CLIENT = f"""
import json, os, sentry_sdk

def hostile_frames(event, hint):
    for exc in (event.get("exception") or {{}}).get("values", []):
        frames = (exc.get("stacktrace") or {{}}).get("frames") or []
        if frames:
            frames[0].update(filename={SVG!r}, abs_path={SVG!r}, function={IMG!r},
                             module={SCRIPT!r}, in_app=True)
    if event.get("type") != "transaction" and "request" not in event:
        event["request"] = {{
            "method": "POST",
            "url": {JS_URL + "//" + ALL!r},
            "query_string": "q=" + {ALL!r},
            "headers": {{"User-Agent": "Firefox", "X-Evil": {ALL!r}, "Referer": {JS_URL!r}}},
            "cookies": {{"session": {ALL!r}}},
            "data": {{"quantity": {ALL!r}, "next": {JS_URL!r}}},
        }}
    return event

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    release="shop@" + {SVG!r},
    environment={IMG!r},
    traces_sample_rate=1.0,
    before_send=hostile_frames,
)
sentry_sdk.set_tag("payload", {ALL!r})
sentry_sdk.set_tag("link", {JS_URL!r})
sentry_sdk.set_tag({SVG!r}, "hostile key")
sentry_sdk.set_user({{"id": {SCRIPT!r}, "username": {IMG!r}, "email": {SVG!r}}})
sentry_sdk.set_context("checkout", {{"step": {ALL!r}, "url": {JS_URL!r}}})
sentry_sdk.set_extra("payload", {ALL!r})
sentry_sdk.set_extra("url", {JS_URL!r})
sentry_sdk.add_breadcrumb(category={SVG!r}, message={ALL!r}, data={{"url": {JS_URL!r}}})
sentry_sdk.get_current_scope().set_transaction_name({TRANSACTION!r})

def parse_quantity(raw):
    hostile = {ALL!r}
    return int(raw)

def checkout(cart):
    try:
        parse_quantity(cart["quantity"])
    except ValueError as exc:
        raise RuntimeError({ALL!r}) from exc

ids = {{"exception": "", "message": "", "urls": []}}
try:
    checkout({{"quantity": {ALL!r}}})
except RuntimeError as exc:
    ids["exception"] = sentry_sdk.capture_exception(exc)
ids["message"] = sentry_sdk.capture_message({ALL!r}, level="warning")

for url in {URLS!r}:
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["hostile urls"]
        scope.add_event_processor(
            lambda event, hint, url=url: {{**event, "request": {{"method": "GET", "url": url}}}}
        )
        ids["urls"].append(sentry_sdk.capture_message("hostile urls " + url, level="info"))

with sentry_sdk.start_transaction(name={TRANSACTION!r}, op="http.server") as tx:
    with tx.start_child(op="db", description={SVG + IFRAME!r}):
        pass
    with tx.start_child(op="http.client", description="GET " + {JS_URL + SCRIPT!r}):
        pass
    ids["trace"] = tx.trace_id
sentry_sdk.flush()
print(json.dumps(ids))
"""
STORED = """
import json
import re
from spyglass.events.models import Event
from spyglass.issues.models import Issue
print(json.dumps({
    "events": Event.objects.count(),
    "issues": {i.title: i.number for i in Issue.objects.all()},
}))
"""
# An alert rule on new issues, made before the events come, so its history lists them.
RULE = """
from spyglass.alerts.conditions import FIRST_SEEN
from spyglass.alerts.models import Rule
from spyglass.projects.models import Project
project = Project.objects.get(organization__slug="acme", slug="web")
print(Rule.objects.create(project=project, name="New issues", conditions=[{"id": FIRST_SEEN}]).pk)
"""
FIRES = "from spyglass.alerts.models import RuleFire; print(RuleFire.objects.count())"
TRANSACTIONS = """
from spyglass.performance.models import Transaction
print(Transaction.objects.count())
"""

# Everything a payload could have turned into, looked for in the live DOM.
INSPECT = """() => {
  const bad = [];
  const script = /^\\s*(javascript|data|vbscript):/i;
  const urls = ['src', 'href', 'xlink:href', 'action', 'formaction', 'data', 'poster'];
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href');
    const protocol = new URL(href, location.href).protocol;
    if (protocol !== 'http:' && protocol !== 'https:') bad.push('link ' + href);
  }
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on') || name === 'srcdoc') bad.push(el.tagName + '[' + name + ']');
      if (urls.includes(name) && script.test(attr.value)) bad.push(el.tagName + ' ' + attr.value);
    }
  }
  for (const el of document.querySelectorAll('iframe, object, embed, frame, script:not([src])')) {
    bad.push('element ' + el.tagName);
  }
  return {xss: window.__xss === undefined ? null : String(window.__xss), bad};
}"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SpyglassServer, Any]]:
    server = SpyglassServer(Database(), "web hostile", digest=True)
    try:
        server.create_project()  # acme/web
        server.manage("createuser", "--email", EMAIL, "--password", PASSWORD)
        server.manage("project", "create", "--org", "acme", "--name", "api", "--owner", EMAIL)
        server.start()
        rule = int(shell(server, RULE).strip())
        script = tmp_path_factory.mktemp("client") / "hostile_shop.py"
        script.write_text(CLIENT)
        env = dict(server.env(), SENTRY_DSN=server.dsn)
        out = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        ids = json.loads(out.stdout.strip().splitlines()[-1])
        wanted = 2 + len(URLS)

        def stored() -> dict[str, Any] | None:
            found: dict[str, Any] = json.loads(shell(server, STORED).strip())
            return found if found["events"] == wanted else None

        ids.update(wait_for(stored, f"{wanted} events to be digested"))
        wait_for(
            lambda: True if shell(server, TRANSACTIONS).strip() == "1" else None,
            "the transaction to be digested",
        )
        wait_for(
            lambda: True if shell(server, FIRES).strip() == "3" else None,
            "the rule to fire for the 3 new issues",
        )
        ids["rule"] = rule
        yield server, ids
    finally:
        server.shutdown()
        server.database.drop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile", numbered=False)


class Checked:
    """A signed-in page that records dialogs and console errors, and checks each page."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.dialogs = watch_for_script(page)
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def check(self, name: str, *visible: str) -> None:
        page = self.page
        page.wait_for_load_state("load")
        for text in visible:
            expect(page.get_by_text(text).first).to_be_visible()
        found = page.evaluate(INSPECT)
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        assert found == {"xss": None, "bad": []}, (name, page.url, found)
        assert self.dialogs == [], (name, self.dialogs)
        assert self.errors == [], (name, self.errors)  # no CSP violation, no script error


@pytest.fixture
def checked(loaded: tuple[SpyglassServer, Any], browser: Browser, shots: Path) -> Iterator[Checked]:
    server, _ids = loaded
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    checked = Checked(page, shots)
    sign_in(page, server)
    yield checked
    context.close()


def _issue(ids: dict[str, Any], starts: str) -> int:
    numbers = [n for title, n in ids["issues"].items() if title.startswith(starts)]
    assert len(numbers) == 1, ids["issues"]
    return int(numbers[0])


def test_the_home_and_streams_show_hostile_titles_as_text(
    loaded: tuple[SpyglassServer, Any], checked: Checked
) -> None:
    server, _ids = loaded
    page = checked.page
    base = server.base_url
    page.goto(f"{base}/acme/")
    checked.check("organization", TITLE)
    page.goto(f"{base}/acme/web/issues/")
    expect(page.locator(".issue .title")).to_have_count(3)
    checked.check("stream", TITLE, SCRIPT + IMG)
    page.goto(f"{base}/acme/issues/")
    checked.check("organization-stream", TITLE)
    page.goto(f"{base}/acme/web/issues/?environment={quote(IMG)}")
    expect(page.locator(".issue .title")).to_have_count(3)
    checked.check("stream-hostile-environment")


def test_hostile_search_parameters_are_shown_back_as_text(
    loaded: tuple[SpyglassServer, Any], checked: Checked
) -> None:
    """A link someone sends with a payload in the search runs nothing when opened."""
    server, ids = loaded
    page = checked.page
    base = server.base_url
    hostile = quote(f'"{ALL}"')
    number = _issue(ids, "RuntimeError")
    for name, url in [
        ("stream", f"{base}/acme/web/issues/?query={hostile}&sort={hostile}"),
        ("organization-stream", f"{base}/acme/issues/?query={hostile}&environment={hostile}"),
        ("events", f"{base}/acme/web/issues/{number}/events/?query={hostile}"),
        ("performance", f"{base}/acme/web/performance/?query={hostile}&sort={hostile}"),
        ("summary", f"{base}/acme/web/performance/summary/?transaction={quote(ALL)}"),
    ]:
        page.goto(url)
        checked.check(f"reflected-{name}")
        if name == "stream":  # the search comes back in the box and in its error, as text
            expect(page.get_by_role("combobox", name="Search")).to_have_value(f'"{ALL}"')
            expect(page.locator(".search-error")).to_contain_text(SCRIPT + IMG + SVG)


def test_the_issue_page_with_every_section_open_shows_the_payloads_as_text(
    loaded: tuple[SpyglassServer, Any], checked: Checked
) -> None:
    server, ids = loaded
    page = checked.page
    number = _issue(ids, "RuntimeError")
    page.goto(f"{server.base_url}/acme/web/issues/{number}/")
    for summary in page.locator("#event details:not([open]) > summary").all():
        summary.click()  # the folded frames too
    assert page.locator("#event details:not([open])").count() == 0
    event = page.locator("#event")
    expect(event.locator(".exc-value").first).to_have_text(ALL)
    frame = event.locator(".frame summary").filter(has_text=IMG).first  # the function
    expect(frame).to_contain_text(SVG)  # the filename
    expect(frame).to_contain_text(SCRIPT)  # the module
    # Python's repr in the source line and the local variable escapes the quote of IFRAME.
    expect(event.locator(".source code").filter(has_text=SCRIPT + IMG + SVG).first).to_be_visible()
    expect(event.locator(".vars").filter(has_text=SCRIPT + IMG + SVG).first).to_be_visible()
    crumbs = event.locator(".crumbs")
    expect(crumbs).to_contain_text(ALL)
    expect(crumbs).to_contain_text(SVG)
    expect(crumbs).to_contain_text(JS_URL)
    request = event.locator(".request-line")
    expect(request).to_contain_text(JS_URL)
    assert request.locator("a").count() == 0  # never a link
    for section in ("Query", "Body", "Headers", "Cookies"):
        expect(event.get_by_role("heading", name=section, exact=True)).to_be_visible()
    expect(event.locator(".event-tags")).to_contain_text(ALL)
    expect(event.locator(".contexts")).to_contain_text(ALL)
    expect(event.locator(".event-tags")).to_contain_text(JS_URL + "//" + SCRIPT)  # the url tag
    expect(event).to_contain_text(SCRIPT)  # user id
    expect(event.locator(".event-head")).to_contain_text(IMG)  # environment
    expect(event.locator(".event-head")).to_contain_text(SVG)  # release
    checked.check("issue", ALL, TITLE)
    page.screenshot(path=str(checked.shots / "issue-top.png"))

    # The tag link searches the stream for the hostile value; the page shows the issue.
    page.locator(".event-tags a", has_text="payload").click()
    expect(page.get_by_role("combobox", name="Search")).to_have_value(re.compile("^payload:"))
    expect(page.locator(".issue .title")).to_have_count(3)  # every event carries the tag
    checked.check("stream-search-hostile-tag", TITLE)

    # The transaction link of the event leads to the summary of the hostile transaction.
    page.goto(f"{server.base_url}/acme/web/issues/{number}/")
    page.locator(".event-nav a", has_text="Transaction").click()
    checked.check("summary-from-event", TRANSACTION)


def test_the_message_issue_events_list_tags_similar_and_raw_json(
    loaded: tuple[SpyglassServer, Any], checked: Checked
) -> None:
    server, ids = loaded
    page = checked.page
    base = server.base_url
    number = _issue(ids, ALL[:20])
    issue_url = f"{base}/acme/web/issues/{number}/"
    page.goto(issue_url)
    expect(page.locator("#event .message")).to_have_text(ALL)
    checked.check("message-issue", ALL)
    page.goto(f"{issue_url}events/")
    expect(page.locator(".event-list tbody tr")).to_have_count(1)
    checked.check("events", ALL)
    for key in ("payload", "link", "url", "environment", "release", "user", "transaction"):
        page.goto(f"{issue_url}tags/{quote(key, safe='')}/")
        checked.check(f"tag-values-{key}")
    page.goto(f"{issue_url}tags/payload/")
    expect(page.locator(".tag-value")).to_have_text([ALL])
    page.goto(f"{issue_url}tags/link/")
    expect(page.locator(".tag-value")).to_have_text([JS_URL])
    page.locator(".tag-value").click()  # the stream search for it, not the URL
    checked.check("stream-search-js-tag")
    page.goto(f"{issue_url}similar/")
    checked.check("similar")

    event_id = ids["message"]
    raw = page.request.get(f"{issue_url}events/{event_id}/json/")
    assert raw.ok
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["content-disposition"].startswith("attachment;")
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert json.dumps(ALL)[1:-1] in raw.text()  # the data as it came, never rendered


def test_script_urls_in_every_disguise_never_become_links(
    loaded: tuple[SpyglassServer, Any], checked: Checked
) -> None:
    server, ids = loaded
    page = checked.page
    number = _issue(ids, "hostile urls")
    issue_url = f"{server.base_url}/acme/web/issues/{number}/"
    for n, (url, event_id) in enumerate(zip(URLS, ids["urls"], strict=True)):
        page.goto(f"{issue_url}?event={event_id}#event")
        request = page.locator("#event .request-line")
        expect(request).to_be_visible()
        print(repr(url), "->", repr(request.inner_text()))
        assert request.locator("a").count() == 0, url
        checked.check(f"url-{n}")
    page.goto(f"{issue_url}events/")
    expect(page.locator(".event-list tbody tr")).to_have_count(len(URLS))
    checked.check("url-events")


def test_the_performance_pages_show_the_hostile_transaction_as_text(
    loaded: tuple[SpyglassServer, Any], checked: Checked
) -> None:
    server, ids = loaded
    page = checked.page
    base = server.base_url
    page.goto(f"{base}/acme/web/performance/")
    table = page.locator(".perf-table")
    expect(table).to_contain_text(TRANSACTION)
    checked.check("performance-overview", TRANSACTION)
    table.get_by_role("link", name=TRANSACTION).click()
    expect(page.locator(".stats")).to_contain_text("Transactions")
    checked.check("performance-summary", TRANSACTION)
    page.locator("a[href*='/performance/events/']").first.click()
    expect(page.locator("body")).to_contain_text(SVG + IFRAME)
    checked.check("performance-event", TRANSACTION, "GET " + JS_URL + SCRIPT)
    page.goto(f"{base}/acme/traces/{ids['trace']}/")
    expect(page.locator(".wf-label").first).to_contain_text(TRANSACTION)
    checked.check("trace", TRANSACTION)
    page.goto(f"{base}/acme/web/performance/vitals/")
    checked.check("performance-vitals")


def test_the_alert_rule_history_lists_the_hostile_issues_as_text(
    loaded: tuple[SpyglassServer, Any], checked: Checked
) -> None:
    server, ids = loaded
    page = checked.page
    page.goto(f"{server.base_url}/acme/web/alerts/{ids['rule']}/")
    expect(page.locator("#history .title")).to_have_count(3)
    checked.check("alert-rule-history", TITLE, SCRIPT + IMG)
    page.goto(f"{server.base_url}/acme/web/alerts/")
    checked.check("alert-rules")


def test_the_page_check_finds_each_kind_of_injection(browser: Browser) -> None:
    """The DOM check above fails on what an escaping bug would produce (so it can fail)."""
    context = browser.new_context()
    page = context.new_page()
    page.route("**/*", lambda route: route.fulfill(body=_INJECTED, content_type="text/html"))
    page.goto("http://hostile.invalid/")
    found = page.evaluate(INSPECT)
    context.close()
    assert found["xss"] == "2"
    assert sorted(found["bad"]) == sorted(
        [
            f"link {JS_URL}",
            "link  JaVaScRiPt:x",
            "link data:text/html,x",
            "IMG[onerror]",
            "svg[onload]",
            "IFRAME[srcdoc]",
            "element IFRAME",
            "element SCRIPT",
            "FORM javascript:x",
            f"A {JS_URL}",
            "A  JaVaScRiPt:x",
            "A data:text/html,x",
        ]
    )


_INJECTED = (
    f'<a href="{JS_URL}">a</a><a href=" JaVaScRiPt:x">b</a><a href="data:text/html,x">c</a>'
    '<img src="x" onerror="window.__xss=2"><svg onload="x"></svg><iframe srcdoc="x"></iframe>'
    '<script>x</script><form action="javascript:x"></form><a href="/ok">ok</a>'
)
