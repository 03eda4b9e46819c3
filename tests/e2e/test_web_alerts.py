"""Alerts end to end in Debian's Chromium against a real `spyglass serve`: a developer creates
an issue alert rule in the form, the real sentry-sdk sends a burst, the digest fires the rule
once, the worker delivers the webhook to a receiver on loopback, and the rule's history shows
the trigger. Screenshots of the alert pages go to the test's artifacts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from spyglass.notifications.tests.receivers import HTTPReceiver, http_receiver
from tests.e2e.browser import sign_in_as
from tests.e2e.harness import Database, SpyglassServer, wait_for
from tests.e2e.test_digest import shell

pytestmark = pytest.mark.e2e

EMAIL = "oncall@example.com"
PASSWORD = "a long on-call password"

CLIENT = """
import json, os, sentry_sdk
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="shop@2.0.0", environment="production")
ids = []
for n in range(int(os.environ["E2E_COUNT"])):
    try:
        raise ConnectionError("payment provider refused the connection")
    except Exception as caught:
        ids.append(sentry_sdk.capture_exception(caught))
sentry_sdk.flush()
print(json.dumps(ids))
"""
# One shell instead of a command each (every command is a Django start-up): the on-call
# developer as the organization's owner, and a webhook channel to the receiver.
SETUP = """
from spyglass.accounts.models import User
from spyglass.notifications.models import Channel
from spyglass.projects.models import Member, Organization, Role
org = Organization.objects.get(slug="acme")
user = User.objects.create_user("{email}", "{password}")
Member.objects.create(organization=org, user=user, role=Role.OWNER)
Channel.objects.create(organization=org, kind="webhook", slug="ops-hook", name="Ops webhook",
                       config={{"url": "{url}"}})
"""
# Twenty minutes of a latency rule's values and the incident they made (the scheduler's job
# runs once a minute: too slow to wait for here; tests/…/test_metric_alerts.py covers it).
INCIDENT = """
from datetime import timedelta
from django.utils import timezone
from spyglass.alerts.models import *
rule = MetricRule.objects.get(name="Checkout latency")
now = timezone.now().replace(second=0, microsecond=0)
values = [400, 450, 500, 2500, 3400, 4100, 3900, 3600, 2800, 900, 500, 450] + [420] * 8
for n, value in enumerate(values):
    MetricValue.objects.create(rule=rule, at=now - timedelta(minutes=20 - n), value=value)
incident = Incident.objects.create(rule=rule, organization=rule.organization, identifier=1,
    title=rule.name, status=IncidentStatus.CLOSED, started_at=now - timedelta(minutes=16),
    closed_at=now - timedelta(minutes=11), peak_value=4100)
for status, previous, minutes, value in [(1, None, 16, 3400), (20, 1, 16, 3400), (2, 20, 11, 900)]:
    IncidentActivity.objects.create(incident=incident, status=status, previous_status=previous,
        value=value, at=now - timedelta(minutes=minutes))
"""
FIRES = "from spyglass.alerts.models import RuleFire; print(RuleFire.objects.count())"


class AlertingServer(SpyglassServer):
    """Outbound HTTP to the loopback receiver is allowed (the SSRF guard refuses it else)."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["SPYGLASS_OUTBOUND_ALLOWLIST"] = "127.0.0.1"
        return env


@pytest.fixture(scope="module")
def receiver() -> Iterator[HTTPReceiver]:
    with http_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def server(receiver: HTTPReceiver) -> Iterator[SpyglassServer]:
    server = AlertingServer(Database(), "alerting server", digest=True)
    try:
        server.create_project()  # acme/web
        shell(server, SETUP.format(email=EMAIL, password=PASSWORD, url=f"{receiver.url}/hook"))
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def send_errors(server: SpyglassServer, count: int) -> list[str]:
    env = dict(server.env(), SENTRY_DSN=server.dsn, E2E_COUNT=str(count))
    out = subprocess.run(
        [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ids: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return ids


def sign_in(page: Page, server: SpyglassServer) -> None:
    sign_in_as(page, server.base_url, EMAIL, PASSWORD)


def test_an_issue_alert_made_in_the_form_fires_once_for_a_burst_and_shows_in_its_history(
    server: SpyglassServer,
    browser: Browser,
    receiver: HTTPReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = tmp_path_factory.mktemp("web-alerts", numbered=False)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server)
    page.goto(f"{server.base_url}/acme/web/issues/")
    page.locator("a.project-section", has_text="Alerts").click()
    expect(page.locator("h1")).to_have_text("web alerts")
    expect(page.locator("#issue-rules .empty")).to_have_text("No issue alert rules yet.")
    page.screenshot(path=str(shots / "rules-empty.png"), full_page=True)

    page.get_by_role("link", name="New issue alert").click()
    page.get_by_label("Name").fill("Payment bursts")
    page.get_by_label("A new issue is created").uncheck()
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator(".errorlist")).to_have_text("A rule needs at least one condition.")
    page.screenshot(path=str(shots / "rule-form-error.png"), full_page=True)

    page.get_by_label("The issue is seen more than").check()
    page.locator("#id_frequency_value").fill("4")
    page.locator("#id_frequency_interval").select_option("1m")
    page.get_by_label("Ops webhook (webhook)").check()
    page.screenshot(path=str(shots / "rule-form.png"), full_page=True)
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator("h1")).to_have_text("Payment bursts")
    expect(page.locator(".rule-summary")).to_contain_text(
        "The issue is seen more than 4 times in 1m"
    )
    expect(page.locator("#history .empty")).to_have_text("This rule has not triggered yet.")

    # Five events in a minute: more than four, so the rule fires; a second burst right after
    # is inside the 30-minute action interval and sends nothing more.
    send_errors(server, 5)
    wait_for(lambda: True if shell(server, FIRES).strip() == "1" else None, "the rule to fire")
    wait_for(lambda: receiver.requests or None, "the webhook to be delivered")
    send_errors(server, 5)
    wait_for(
        lambda: (
            True
            if "10"
            in shell(
                server,
                "from spyglass.issues.models import Issue; print(Issue.objects.get().times_seen)",
            )
            else None
        ),
        "the second burst to be digested",
    )
    assert shell(server, FIRES).strip() == "1"
    payload = receiver.requests[0].json()
    assert payload["triggering_rules"] == ["Payment bursts"]
    assert payload["message"].startswith("ConnectionError")
    assert len(receiver.requests) == 1

    page.reload()
    history = page.locator("#history .fire")
    expect(history).to_have_count(1)
    expect(history.locator(".title")).to_have_text(
        "ConnectionError: payment provider refused the connection"
    )
    expect(history.locator(".meta")).to_contain_text("→ channel ops-hook")
    page.screenshot(path=str(shots / "rule-history.png"), full_page=True)

    page.get_by_role("link", name="Alerts").first.click()
    expect(page.locator("#issue-rules .rule-row")).to_have_count(1)
    expect(page.locator("#issue-rules .last")).to_contain_text("last triggered")
    page.screenshot(path=str(shots / "rules.png"), full_page=True)

    page.get_by_role("link", name="New metric alert").click()
    page.get_by_label("Name").fill("Checkout latency")
    page.locator("#id_dataset").select_option("transactions")
    page.locator("#id_aggregate").select_option("p99(transaction.duration)")
    page.get_by_label("Critical threshold").fill("3000")
    page.screenshot(path=str(shots / "metric-form.png"), full_page=True)
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator("h1")).to_have_text("Checkout latency")
    expect(page.locator(".chart-empty")).to_be_visible()
    page.screenshot(path=str(shots / "metric-rule.png"), full_page=True)

    shell(server, INCIDENT)
    page.reload()
    expect(page.locator(".metric-chart .bar")).to_have_count(20)
    page.locator("#incidents a.title").click()
    expect(page.locator("#incident-status")).to_have_text("closed")
    expect(page.locator("#timeline li")).to_have_count(3)
    expect(page.locator("#timeline")).to_contain_text("Critical")
    expect(page.locator(".metric-chart .threshold-critical")).to_have_count(1)
    page.screenshot(path=str(shots / "incident.png"), full_page=True)
    assert not errors, errors
