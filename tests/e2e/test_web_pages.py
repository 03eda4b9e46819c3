"""The web UI in Debian's Chromium against a real `spyglass serve`, with issues made by the
real sentry-sdk: sign in, the organization home, the issue stream (tabs, sort, bulk resolve),
screenshots light and dark at laptop and phone widths, and a hostile title that runs nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.harness import Database, SpyglassServer, wait_for
from tests.e2e.test_digest import shell

pytestmark = pytest.mark.e2e

EMAIL = "dev@example.com"
PASSWORD = "a long developer password"
HOSTILE = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'

# Run by the real sentry-sdk in a process of its own; prints the event ids.
CLIENT = f"""
import json, os, sentry_sdk
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="shop@1.2.0", environment="production")
ids = []
def fail(exc):
    try:
        raise exc
    except Exception as caught:
        ids.append(sentry_sdk.capture_exception(caught))
for n in range(12):
    fail(KeyError("cart"))
for n in range(4):
    fail(ValueError("invalid literal for int() with base 10: 'abc'"))
fail(RuntimeError({HOSTILE!r}))
for n in range(2):
    sentry_sdk.capture_message("payment provider timed out", level="warning")
sentry_sdk.flush()
print(json.dumps(ids))
"""
COUNT_ISSUES = "from spyglass.issues.models import Issue; print(Issue.objects.count())"


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = SpyglassServer(Database(), "web server", digest=True)
    try:
        server.create_project()  # acme/web
        server.manage("createuser", "--email", EMAIL, "--password", PASSWORD)
        server.manage("project", "create", "--org", "acme", "--name", "api", "--owner", EMAIL)
        server.start()
        env = dict(server.env(), SENTRY_DSN=server.dsn)
        out = subprocess.run(
            [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert len(json.loads(out.stdout.strip().splitlines()[-1])) == 17
        wait_for(
            lambda: True if shell(server, COUNT_ISSUES).strip() == "4" else None,
            "4 issues to be digested",
        )
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def sign_in(page: Page, server: SpyglassServer) -> None:
    page.goto(f"{server.base_url}/")
    expect(page).to_have_url(f"{server.base_url}/accounts/sign-in/?next=/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.base_url}/acme/")


def watch_for_script(page: Page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def test_a_developer_signs_in_finds_the_issues_switches_tabs_sorts_and_resolves(
    server: SpyglassServer, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs = watch_for_script(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server)

    web = page.locator("#project-web")
    expect(web.locator(".events-24h")).to_have_text("19")
    expect(page.locator("#project-api .events-24h")).to_have_text("0")
    expect(page.locator(".latest-issue")).to_have_count(4)  # across the projects
    web.get_by_role("link", name="web").click()

    expect(page.locator("h1")).to_have_text("web issues")
    titles = page.locator(".issue .title")
    expect(titles).to_have_count(4)
    expect(page.locator(".issue", has_text="KeyError")).to_contain_text("12")
    expect(page.get_by_text(f"RuntimeError: {HOSTILE}")).to_be_visible()  # text, not markup
    assert page.evaluate("window.__xss") is None

    page.get_by_label("Sort by").select_option("events")
    expect(page).to_have_url(re.compile(r"sort=events"))
    expect(titles.first).to_have_text("KeyError: 'cart'")
    page.get_by_label("Environment").select_option("production")
    expect(page).to_have_url(re.compile(r"environment=production"))
    expect(titles).to_have_count(4)
    expect(titles.first).to_have_text("KeyError: 'cart'")  # the sort is kept
    # the rows' chart: the last 14 days (daily bars) instead of 24 hours, kept by the tabs
    cart = page.locator(".issue", has_text="KeyError").locator("svg.sparkline")
    expect(cart).to_have_attribute("aria-label", "12 events in 24 hours")
    page.get_by_role("link", name="Chart the last 14 days").click()
    expect(page).to_have_url(re.compile(r"groupStatsPeriod=14d"))
    expect(cart).to_have_attribute("aria-label", "12 events in 14 days")
    expect(cart.locator("rect:not(.baseline)")).to_have_count(14)
    expect(titles.first).to_have_text("KeyError: 'cart'")

    page.get_by_role("link", name="For review", exact=True).click()
    expect(titles).to_have_count(4)  # all new
    page.get_by_role("link", name="Resolved", exact=True).click()
    expect(page.locator(".empty")).to_be_visible()

    page.get_by_role("link", name="Unresolved", exact=True).click()
    page.get_by_role("combobox", name="Search").fill("payment")
    page.keyboard.press("Enter")
    expect(titles).to_have_count(1)
    page.locator(".issue input[type=checkbox]").check()
    expect(page.locator(".bulk .count")).to_have_text("1 selected")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("1 issue resolved.")
    expect(page.locator(".empty")).to_be_visible()
    page.get_by_role("link", name="Resolved", exact=True).click()
    expect(titles).to_have_text(["payment provider timed out"])

    page.goto(f"{server.base_url}/acme/web/issues/")  # tabs keep the search; start afresh
    page.locator(".issue", has_text="ValueError").locator("input[type=checkbox]").check()
    page.locator(".bulk-menu summary", has_text="Archive").click()
    page.get_by_role("button", name="Until 10 more events").click()
    expect(page.locator(".messages")).to_contain_text("1 issue archived until 10 more events.")
    expect(titles).to_have_count(2)
    page.get_by_role("link", name="Archived", exact=True).click()
    expect(titles).to_have_text(["ValueError: invalid literal for int() with base 10: 'abc'"])
    expect(page.locator(".issue .badge")).to_have_text("archived")

    page.locator(".user-menu summary").click()  # the user menu
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server.base_url}/accounts/sign-in/")
    assert dialogs == [] and page.evaluate("window.__xss") is None
    assert not errors, errors  # no CSP violation, no missing file, no script error


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_screenshots_of_every_page(
    server: SpyglassServer,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
    scheme: str,
    width: int,
    height: int,
) -> None:
    shots = tmp_path_factory.mktemp(f"web-{scheme}-{width}", numbered=False)
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    page = context.new_page()
    dialogs = watch_for_script(page)
    page.goto(f"{server.base_url}/accounts/sign-in/")
    page.screenshot(path=str(shots / "sign-in.png"), full_page=True)
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".errorlist")).to_be_visible()
    page.screenshot(path=str(shots / "sign-in-error.png"), full_page=True)
    sign_in(page, server)
    links = page.locator("nav.org-links a")
    expect(links).to_have_text(["Issues of all projects", "Incidents", "Organization settings"])
    expect(page.locator(".latest-head .see-all")).to_have_attribute("href", "/acme/issues/")
    page.screenshot(path=str(shots / "organization.png"), full_page=True)
    page.goto(f"{server.base_url}/acme/web/issues/?tab=unresolved")
    expect(page.locator(".issue").first).to_be_visible()
    page.locator(".issue input[type=checkbox]").first.check()
    page.screenshot(path=str(shots / "stream.png"), full_page=True)
    page.goto(f"{server.base_url}/acme/web/issues/?tab=unresolved&groupStatsPeriod=14d")
    expect(page.locator(".issue svg.sparkline").first).to_have_attribute(
        "aria-label", re.compile(r"in 14 days$")
    )
    page.screenshot(path=str(shots / "stream-14d.png"), full_page=True)
    page.locator(".bulk-menu summary", has_text="Archive").click()
    page.screenshot(path=str(shots / "stream-archive-menu.png"))
    page.goto(f"{server.base_url}/acme/web/issues/?tab=escalating")
    page.screenshot(path=str(shots / "stream-empty.png"), full_page=True)
    page.goto(f"{server.base_url}/acme/web/issues/?query=level:error+timesSeen:>lots")
    expect(page.locator(".search-error mark")).to_have_text("lots")
    page.screenshot(path=str(shots / "stream-search-error.png"), full_page=True)
    page.locator(".user-menu summary").click()
    page.screenshot(path=str(shots / "user-menu.png"))
    page.goto(f"{server.base_url}/accounts/password/")
    page.screenshot(path=str(shots / "password-change.png"), full_page=True)
    page.goto(f"{server.base_url}/accounts/settings/")
    page.screenshot(path=str(shots / "settings.png"), full_page=True)
    page.goto(f"{server.base_url}/acme/web/issues/1/")
    page.screenshot(path=str(shots / "issue.png"), full_page=True)
    assert dialogs == [] and page.evaluate("window.__xss") is None
    context.close()
    print(f"screenshots in {shots}")
