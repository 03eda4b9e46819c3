"""The issue page in Debian's Chromium against a real `spyglass serve`, for an event the real
sentry-sdk sent: a Python stack trace with locals and source, breadcrumbs, a request and tags,
some of them hostile; nothing runs, and screenshots light and dark at laptop and phone widths."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.harness import Database, SpyglassServer, wait_for
from tests.e2e.test_digest import shell
from tests.e2e.test_web_pages import EMAIL, PASSWORD, sign_in, watch_for_script

pytestmark = pytest.mark.e2e

HOSTILE = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
SVG = '<svg onload="window.__xss=3">'

# Run by the real sentry-sdk from a file (so frames have source context lines).
CLIENT = f"""
import os, sentry_sdk
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="shop@1.2.0", environment="production")

def add_request(event, hint):
    event["request"] = {{
        "method": "POST",
        "url": {"javascript:alert(1)//" + HOSTILE!r},
        "query_string": {"step=2&q=" + SVG!r},
        "headers": {{"User-Agent": "Firefox", "X-Evil": {HOSTILE!r}}},
        "data": {{"quantity": {SVG!r}}},
    }}
    return event

sentry_sdk.get_isolation_scope().add_event_processor(add_request)
sentry_sdk.set_tag("payment_provider", {HOSTILE!r})
sentry_sdk.set_user({{"id": "42", "email": "buyer@example.com"}})
sentry_sdk.add_breadcrumb(category="http", message="GET /cart", data={{"status": 200}})
sentry_sdk.add_breadcrumb(category="ui.click", message={HOSTILE!r}, level="warning")

def parse_quantity(raw):
    hostile = {HOSTILE!r}
    return int(raw)

def checkout(cart):
    total_items = len(cart)
    try:
        parse_quantity(cart["quantity"])
    except ValueError as exc:
        raise RuntimeError("checkout failed") from exc

try:
    checkout({{"quantity": "abc"}})
except RuntimeError as exc:
    sentry_sdk.capture_exception(exc)
sentry_sdk.flush()
"""
COUNT_EVENTS = "from spyglass.events.models import Event; print(Event.objects.count())"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpyglassServer]:
    server = SpyglassServer(Database(), "web issue page", digest=True)
    try:
        server.create_project()  # acme/web
        server.manage("createuser", "--email", EMAIL, "--password", PASSWORD)
        server.manage("project", "create", "--org", "acme", "--name", "api", "--owner", EMAIL)
        server.start()
        script = tmp_path_factory.mktemp("client") / "shop.py"
        script.write_text(CLIENT)
        env = dict(server.env(), SENTRY_DSN=server.dsn)
        out = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        wait_for(
            lambda: True if shell(server, COUNT_EVENTS).strip() == "1" else None,
            "the event to be digested",
        )
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def test_the_issue_page_shows_the_trace_breadcrumbs_request_and_tags_and_runs_nothing(
    server: SpyglassServer, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs = watch_for_script(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/web/issues/")
    page.locator(".issue .title").first.click()

    expect(page.locator("h1")).to_contain_text("RuntimeError: checkout failed")
    exceptions = page.locator(".exception h4")
    # Most recent first: the RuntimeError raised, then the ValueError it came from.
    expect(exceptions).to_have_text(
        [
            "RuntimeError: checkout failed",
            "ValueError: invalid literal for int() with base 10: 'abc'",
        ]
    )
    crashed = page.locator(".exception").nth(1).locator(".frame.crashed")
    expect(crashed).to_contain_text("parse_quantity")
    expect(crashed.locator(".source .current")).to_contain_text("return int(raw)")
    expect(crashed.locator(".vars")).to_contain_text("raw")
    expect(crashed.locator(".vars")).to_contain_text(HOSTILE)  # text, not markup
    expect(page.locator(".crumbs")).to_contain_text("GET /cart")
    expect(page.locator(".crumbs")).to_contain_text(HOSTILE)
    expect(page.locator(".request-line")).to_contain_text("javascript:alert(1)")
    assert page.locator(".request-line a").count() == 0  # never a link
    expect(page.locator(".event-tags")).to_contain_text("payment_provider")
    expect(page.locator(".tags-panel")).to_contain_text("production")

    page.locator(".event-tags a", has_text="environment").click()
    # The link searches for exactly the tag (tags[…] because environment is a built-in key).
    expect(page.get_by_role("combobox", name="Search")).to_have_value(
        "tags[environment]:production"
    )
    expect(page.locator(".issue .title")).to_have_count(1)

    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name="Raw JSON").click()
    assert download.value.suggested_filename.endswith(".json")

    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".messages")).to_contain_text("1 issue resolved.")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("button", name="Resolve")).to_be_visible()
    assert dialogs == [] and page.evaluate("window.__xss") is None
    assert not errors, errors  # no CSP violation, no missing file, no script error


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_screenshots_of_the_issue_page(
    server: SpyglassServer,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
    scheme: str,
    width: int,
    height: int,
) -> None:
    shots = tmp_path_factory.mktemp(f"issue-{scheme}-{width}", numbered=False)
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    page = context.new_page()
    dialogs = watch_for_script(page)
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/web/issues/1/")
    expect(page.locator(".frame.crashed").first).to_be_visible()
    page.screenshot(path=str(shots / "issue.png"), full_page=True)
    page.screenshot(path=str(shots / "issue-top.png"))
    page.locator(".crumbs").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "issue-breadcrumbs.png"))
    assert dialogs == [] and page.evaluate("window.__xss") is None
    context.close()
    print(f"screenshots in {shots}")
    assert Path(shots / "issue.png").exists()


def test_the_events_list_opens_from_the_issue_page_and_leads_back_to_the_event(
    server: SpyglassServer, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.mktemp("issue-events", numbered=False)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs = watch_for_script(page)
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/web/issues/1/")
    page.get_by_role("link", name="All events of this issue").click()
    row = page.locator(".event-list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("RuntimeError: checkout failed")
    expect(row).to_contain_text("production")
    expect(row).to_contain_text("shop@1.2.0")
    expect(row).to_contain_text("42")
    page.screenshot(path=str(shots / "events.png"), full_page=True)
    page.get_by_label("Search", exact=True).fill("nothing-matches-this")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".empty")).to_contain_text("No events match")
    page.go_back()
    row.locator("a").first.click()
    expect(page.locator("#event h2")).to_be_visible()
    assert "?event=" in page.url
    assert dialogs == [] and page.evaluate("window.__xss") is None
    print(f"screenshots in {shots}")
