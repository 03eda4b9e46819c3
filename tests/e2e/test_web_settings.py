"""The settings pages in Debian's Chromium against a real `spyglass serve`: copy the DSN, make
and disable a key and see ingest refuse it, a grouping rules error that points at its line,
a new project whose setup page notices the first event (sent by the real sentry-sdk) without a
reload, an API token used against /api/0/, the staff status page, and screenshots of every
settings page, light and dark, at laptop and phone widths."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import new_page, sign_in_as
from tests.e2e.harness import Database, SpyglassServer, wait_for

pytestmark = pytest.mark.e2e

OWNER = "owner@example.com"
MEMBER = "member@example.com"
PASSWORD = "a long settings password"
# A key change reaches the ingest edge's key cache within this many seconds.
KEY_CACHE_TTL = "1"

CLIENT = """
import os, sentry_sdk
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="checkout@1.0.0")
try:
    {}["cart"]
except KeyError as exc:
    print(sentry_sdk.capture_exception(exc))
sentry_sdk.flush()
"""

# A staff owner of acme in a team with access to web, a user in no organization yet, and an
# empty project "api".
SETUP = f"""
from spyglass.accounts.models import User
from spyglass.projects.models import Member, Organization, Project, Role, Team
owner = User.objects.create_superuser({OWNER!r}, {PASSWORD!r})
User.objects.create_user({MEMBER!r}, {PASSWORD!r})
acme = Organization.objects.get(slug="acme")
Member.objects.create(organization=acme, user=owner, role=Role.OWNER)
Project.create(acme, "api")
payments = Team.objects.create(organization=acme, name="Payments", slug="payments")
payments.projects.add(Project.objects.get(organization=acme, slug="web"))
Member.objects.get(user=owner).teams.add(payments)
"""


class SettingsServer(SpyglassServer):
    def env(self) -> dict[str, str]:
        return {**super().env(), "SPYGLASS_KEY_CACHE_TTL": KEY_CACHE_TTL}


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = SettingsServer(Database(), "settings server", digest=True)
    try:
        server.create_project()  # acme/web
        server.manage("shell", "-v", "0", "-c", SETUP)  # one process instead of three
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def sign_in(page: Page, server: SpyglassServer, email: str = OWNER) -> None:
    sign_in_as(page, server.base_url, email, PASSWORD)


def post_event(server: SpyglassServer, public_key: str) -> int:
    """A minimal event sent with a key, as an SDK would; the HTTP status ingest answers."""
    body = b'{"event_id":"' + b"a" * 32 + b'"}\n{"type":"event"}\n{"message":"hello"}\n'
    request = urllib.request.Request(
        server.envelope_url,
        data=body,
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def api_status(server: SpyglassServer, path: str, token: str) -> int:
    request = urllib.request.Request(
        f"{server.base_url}/api/0/{path}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_an_owner_copies_the_dsn_disables_a_key_and_fixes_a_rules_error(
    server: SpyglassServer, browser: Browser
) -> None:
    context, page, errors = new_page(browser, viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/web/settings/")
    expect(page.locator("h1")).to_have_text("web settings")
    page.get_by_role("link", name="Client keys (DSN)").click()
    first = page.locator(".key").first
    expect(first.locator("input.dsn")).to_have_value(server.dsn)
    first.get_by_role("button", name="Copy").click()
    expect(first.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == server.dsn

    page.get_by_label("Label").last.fill("Temporary")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator(".messages")).to_contain_text("Key “Temporary” created.")
    temporary = page.locator(".key", has_text="Temporary")
    dsn = temporary.locator("input.dsn").input_value()
    public_key = urlsplit(dsn).username or ""
    assert wait_for(lambda: True if post_event(server, public_key) == 200 else None, "key works")
    temporary.get_by_role("button", name="Disable").click()
    expect(page.locator(".messages")).to_contain_text("Key disabled")
    expect(page.locator(".key", has_text="Temporary").locator(".badge")).to_have_text("disabled")
    refused = wait_for(
        lambda: status if (status := post_event(server, public_key)) in (401, 403) else None,
        "the disabled key to be refused",
        timeout=15,
    )
    assert refused in (401, 403)
    assert post_event(server, server.public_key) == 200  # the default key still works

    page.get_by_role("link", name="Grouping rules").click()
    rules = page.get_by_label("Fingerprint rules")
    rules.fill("error.type:DatabaseUnavailable -> system-down\nerror.value:oops system-down\n")
    page.get_by_role("button", name="Save rules").click()
    error = page.locator(".rule-error")
    expect(error).to_contain_text("Line 2, column")
    expect(error.locator("mark")).to_be_visible()
    expect(error.locator(".rule-line")).to_contain_text("error.value:oops system-down")
    rules.fill("error.type:DatabaseUnavailable -> system-down\nerror.value:oops -> system-down\n")
    page.get_by_role("button", name="Save rules").click()
    expect(page.locator(".messages")).to_have_text("Settings saved.")
    expect(page.locator(".rule-error")).to_have_count(0)
    expect(rules).to_have_value(re.compile(r"oops -> system-down"))
    assert not errors, errors
    context.close()


def test_a_new_project_notices_its_first_event_without_a_reload(
    server: SpyglassServer, browser: Browser
) -> None:
    context, page, errors = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/settings/projects/")
    page.get_by_label("Name").fill("checkout")
    page.get_by_label("Platform").select_option("python")
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(f"{server.base_url}/acme/checkout/")
    expect(page.locator(".waiting-text")).to_have_text("Waiting for the first event…")
    dsn = page.locator("#setup-dsn").input_value()
    expect(page.locator("#code-python")).to_contain_text(f'dsn="{dsn}"')
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    out = subprocess.run(
        [sys.executable, "-c", CLIENT],
        env={**server.env(), "SENTRY_DSN": dsn},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    expect(page.locator(".received-state")).to_be_visible(timeout=30_000)
    expect(page.locator(".waiting-state")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True
    page.get_by_role("link", name="See the issue").click()
    expect(page).to_have_url(re.compile(r"/acme/checkout/issues/1/$"))
    expect(page.locator("h1")).to_contain_text("KeyError")
    page.goto(f"{server.base_url}/acme/checkout/")
    expect(page).to_have_url(f"{server.base_url}/acme/checkout/issues/")
    assert not errors, errors
    context.close()


def test_a_member_is_added_sees_settings_read_only_and_cannot_see_the_status_page(
    server: SpyglassServer, browser: Browser
) -> None:
    context, page, errors = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/settings/members/")
    page.get_by_label("Email").fill(MEMBER)
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".messages")).to_contain_text(f"{MEMBER} is now a member (member).")
    assert not errors, errors
    context.close()

    context, page, errors = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, server, MEMBER)
    page.goto(f"{server.base_url}/acme/web/settings/keys/")
    expect(page.locator(".read-only-note")).to_be_visible()
    expect(page.get_by_role("button", name="Disable")).to_have_count(0)
    assert not errors, errors
    response = page.goto(f"{server.base_url}/manage/status/")
    assert response is not None and response.status == 404
    context.close()


def test_a_token_made_on_the_page_works_against_the_api_until_revoked(
    server: SpyglassServer, browser: Browser
) -> None:
    context, page, errors = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, server)
    page.goto(f"{server.base_url}/accounts/settings/")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("CI")
    page.get_by_label("event:read").check()
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").input_value()
    assert token.startswith("sntryu_")
    row = page.locator(".tokens tbody tr", has_text="CI")
    expect(row).to_contain_text(token[-4:])
    expect(row).to_contain_text("never")
    assert api_status(server, "projects/acme/web/issues/", token) == 200
    page.goto(f"{server.base_url}/accounts/settings/tokens/")
    expect(page.locator(".tokens tbody tr", has_text="CI")).not_to_contain_text("never")
    assert token not in page.content()  # shown once
    page.locator(".tokens tbody tr", has_text="CI").get_by_role("button", name="Revoke").click()
    expect(page.locator(".messages")).to_contain_text("Token revoked")
    assert api_status(server, "projects/acme/web/issues/", token) == 401
    assert not errors, errors
    context.close()


def test_the_status_page_shows_the_queue(server: SpyglassServer, browser: Browser) -> None:
    context, page, errors = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in(page, server)
    assert post_event(server, server.public_key) == 200
    page.goto(f"{server.base_url}/acme/settings/members/")  # the org settings' nav, then
    nav = page.get_by_role("navigation", name="Settings")
    expect(nav.get_by_role("link")).to_have_text(["Members", "Teams", "Projects", "Channels"])
    page.locator(".user-menu summary").click()  # a staff user's menu leads to the status page
    page.locator(".user-menu").get_by_role("link", name="Server status").click()
    expect(page).to_have_url(f"{server.base_url}/manage/status/")
    expect(page.locator("h1")).to_have_text("Status")
    expect(page.locator(".queue-depth")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator(".queue-accepted-hour")).not_to_have_text("0")
    expect(page.get_by_role("link", name="Retry or discard them in the admin")).to_be_visible()
    expect(page.locator("#disk")).to_contain_text(
        "Queue file" if "sqlite" in server.database.backend else "PostgreSQL"
    )
    assert not errors, errors
    context.close()


PAGES = [
    ("project-general", "/acme/web/settings/"),
    ("project-keys", "/acme/web/settings/keys/"),
    ("project-filters", "/acme/web/settings/filters/"),
    ("project-scrubbing", "/acme/web/settings/scrubbing/"),
    ("project-rules", "/acme/web/settings/rules/"),
    ("project-teams", "/acme/web/settings/teams/"),
    ("project-delete", "/acme/web/settings/delete/"),
    ("setup", "/acme/api/"),
    ("org-members", "/acme/settings/members/"),
    ("org-teams", "/acme/settings/teams/"),
    ("org-team", "/acme/settings/teams/payments/"),
    ("org-projects", "/acme/settings/projects/"),
    ("org-channels", "/acme/settings/channels/"),
    ("user-profile", "/accounts/settings/"),
    ("user-password", "/accounts/password/"),
    ("user-tokens", "/accounts/settings/tokens/"),
    ("status", "/manage/status/"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_screenshots_of_every_settings_page(
    server: SpyglassServer,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
    scheme: str,
    width: int,
    height: int,
) -> None:
    shots = tmp_path_factory.mktemp(f"settings-{scheme}-{width}", numbered=False)
    context, page, errors = new_page(
        browser, viewport={"width": width, "height": height}, color_scheme=scheme
    )
    sign_in(page, server)
    for name, path in PAGES:
        response = page.goto(f"{server.base_url}{path}")
        assert response is not None and response.status == 200, path
        expect(page.locator("h1")).to_be_visible()
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.goto(f"{server.base_url}/acme/web/settings/rules/")
    page.get_by_label("Stack trace rules").fill("stack.module:vendor.* -app\nstack.function:\n")
    page.get_by_role("button", name="Save rules").click()
    expect(page.locator(".rule-error")).to_be_visible()
    page.screenshot(path=str(shots / "project-rules-error.png"), full_page=True)
    page.goto(f"{server.base_url}/accounts/settings/tokens/")
    page.get_by_label("Name").fill(f"shot {scheme} {width}")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator(".token-once")).to_be_visible()
    page.screenshot(path=str(shots / "user-token-created.png"), full_page=True)
    assert not errors, errors
    context.close()
    print(f"screenshots in {shots}")


def test_json_poll_of_an_unknown_project_is_a_404_page_not_json(server: SpyglassServer) -> None:
    # Signed out, the poll redirects to sign in rather than telling anything about the project.
    request = urllib.request.Request(f"{server.base_url}/acme/api/first-event.json")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.url.startswith(f"{server.base_url}/accounts/sign-in/")
        assert "application/json" not in response.headers.get("Content-Type", "")
