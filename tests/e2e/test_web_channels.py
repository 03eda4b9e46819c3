"""Channels in Debian's Chromium against a real `spyglass serve`: create a webhook channel
that points at a receiver on loopback (allowed by SPYGLASS_OUTBOUND_ALLOWLIST), press "Send
test", see the signed payload arrive and the attempt appear in the delivery log; a receiver
that refuses shows its answer in the log. Screenshots of the pages, light and dark, laptop and
phone widths."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from spyglass.notifications.tests.receivers import HTTPReceiver, http_receiver
from tests.e2e.browser import new_page, sign_in_as
from tests.e2e.harness import Database, SpyglassServer, wait_for

pytestmark = pytest.mark.e2e

OWNER = "owner@example.com"
PASSWORD = "a long channels password"
SECRET = "e2e-signing-secret"


class ChannelsServer(SpyglassServer):
    def env(self) -> dict[str, str]:
        return {**super().env(), "SPYGLASS_OUTBOUND_ALLOWLIST": "127.0.0.1"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[HTTPReceiver]:
    with http_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = ChannelsServer(Database(), "channels server", digest=True)
    try:
        server.create_project()  # acme/web
        server.manage("createuser", "--email", OWNER, "--password", PASSWORD, "--superuser")
        server.manage("project", "create", "--org", "acme", "--name", "api", "--owner", OWNER)
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def sign_in(page: Page, server: SpyglassServer) -> None:
    sign_in_as(page, server.base_url, OWNER, PASSWORD)


def test_a_webhook_channel_sends_a_test_and_logs_the_attempt(
    server: SpyglassServer,
    browser: Browser,
    receiver: HTTPReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = tmp_path_factory.mktemp("channels-flow", numbered=False)
    context, page, errors = new_page(browser, viewport={"width": 1280, "height": 900})
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/settings/channels/")
    expect(page.get_by_text("No channels yet.")).to_be_visible()
    nav = page.get_by_role("navigation", name="Settings")  # the organization settings' nav
    expect(nav.get_by_role("link")).to_have_text(["Members", "Teams", "Projects", "Channels"])
    expect(nav.locator("[aria-current=page]")).to_have_text("Channels")
    page.get_by_role("link", name="Webhook", exact=True).click()
    expect(page.get_by_role("heading", name="New Webhook channel")).to_be_visible()
    page.get_by_label("Name").fill("Ops receiver")
    page.get_by_label("URL").fill("ftp://nowhere")
    page.get_by_role("button", name="Create channel").click()
    expect(page.get_by_text("Enter an http:// or https:// URL.")).to_be_visible()
    page.screenshot(path=str(shots / "new-webhook-invalid.png"), full_page=True)
    page.get_by_label("Name").fill("Ops receiver")
    page.get_by_label("URL").fill(receiver.url + "/sentry-hook")
    page.get_by_label("Signing secret").fill(SECRET)
    page.get_by_role("button", name="Create channel").click()
    expect(page).to_have_url(f"{server.base_url}/acme/settings/channels/ops-receiver/")
    expect(page.get_by_role("heading", name="Ops receiver")).to_be_visible()
    expect(page.get_by_text("Nothing sent yet.")).to_be_visible()

    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test message queued")).to_be_visible()
    request = wait_for(
        lambda: receiver.requests[0] if receiver.requests else None,
        "the test message at the receiver",
        30,
    )
    assert request.path == "/sentry-hook"
    body = request.json()
    assert body["message"] == "Test notification for Ops receiver"
    assert body["url"] == f"{server.base_url}/acme/settings/channels/ops-receiver/"
    assert body["level"] == "info" and body["triggering_rules"] == []
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["Sentry-Hook-Signature"] == expected
    # The page reloads itself while the delivery waits; then the attempt is in the log.
    row = page.locator("#delivery-log tr.attempt").first
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator(".result")).to_have_text("delivered")
    expect(row.locator(".code")).to_have_text("200")
    expect(row).to_contain_text("Test notification for Ops receiver")
    page.screenshot(path=str(shots / "channel-delivered.png"), full_page=True)

    receiver.script = [410]
    receiver.response_body = b"hook <b>gone</b>"
    page.get_by_role("button", name="Send test").click()
    failed = page.locator("#delivery-log tr.attempt.failed").first
    expect(failed).to_be_visible(timeout=20_000)
    expect(failed.locator(".code")).to_have_text("410")
    expect(failed.locator(".error")).to_have_text("HTTP 410: hook <b>gone</b>")
    page.screenshot(path=str(shots / "channel-failed.png"), full_page=True)

    page.goto(f"{server.base_url}/acme/settings/channels/")
    expect(page.locator("#channel-ops-receiver")).to_contain_text("Webhook")
    expect(page.locator("#channel-ops-receiver .badge-ok")).to_be_visible()
    page.screenshot(path=str(shots / "channels.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.base_url}/acme/settings/channels/ops-receiver/")
    expect(page.locator("#delivery-log tr.attempt")).to_have_count(2)
    page.screenshot(path=str(shots / "channel-phone.png"), full_page=True)
    assert not errors, errors
    context.close()
    print(f"screenshots in {shots}")


# Two of the four combinations keep the module short; the flow above also shoots a phone.
@pytest.mark.parametrize(("scheme", "width", "height"), [("light", 1280, 800), ("dark", 390, 844)])
def test_screenshots_of_the_channel_pages(
    server: SpyglassServer,
    browser: Browser,
    tmp_path_factory: pytest.TempPathFactory,
    scheme: str,
    width: int,
    height: int,
) -> None:
    shots = tmp_path_factory.mktemp(f"channels-{scheme}-{width}", numbered=False)
    context, page, errors = new_page(
        browser, viewport={"width": width, "height": height}, color_scheme=scheme
    )
    sign_in(page, server)
    for name, path in (
        ("list", "/acme/settings/channels/"),
        ("new-kinds", "/acme/settings/channels/new/"),
        ("new-slack", "/acme/settings/channels/new/?kind=slack"),
        ("new-pagerduty", "/acme/settings/channels/new/?kind=pagerduty"),
        ("user-notifications", "/accounts/settings/notifications/"),
    ):
        response = page.goto(f"{server.base_url}{path}")
        assert response is not None and response.status == 200, path
        expect(page.locator("h1")).to_be_visible()
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert not errors, errors
    context.close()
    print(f"screenshots in {shots}")
