"""send() writes an outbox row; the worker delivers it, records every attempt, retries
temporary failures with backoff and marks a channel broken on a permanent one."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from spyglass.notifications import outbox
from spyglass.notifications.message import Notification
from spyglass.notifications.models import Delivery, DeliveryAttempt
from spyglass.notifications.send import email_users, send
from spyglass.notifications.tests.factories import issue_alert, make_channel, make_issue
from spyglass.notifications.tests.receivers import http_receiver, smtp_receiver
from spyglass.notifications.webhook import sign
from spyglass.test import World

LOOPBACK = override_settings(OUTBOUND_ALLOWLIST="127.0.0.1")


def deliver_all() -> int:
    return outbox.run_once("test-worker", limit=100)


def test_send_writes_a_row_in_the_callers_transaction(world: World) -> None:
    channel = make_channel(world.org, "webhook", "hook", url="http://127.0.0.1:9/")
    issue = make_issue(world.project)
    with pytest.raises(RuntimeError), transaction.atomic():
        send(channel, issue_alert(issue))
        assert Delivery.objects.count() == 1
        raise RuntimeError("roll back")
    assert Delivery.objects.count() == 0
    send(channel, issue_alert(issue))
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.notification["dedup_key"] == f"issue-{issue.pk}"


@LOOPBACK
def test_the_webhook_gets_sentrys_legacy_payload_field_by_field(world: World) -> None:
    issue = make_issue(world.project)
    with http_receiver() as receiver:
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url + "/sentry")
        send(channel, issue_alert(issue))
        assert deliver_all() == 1
    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/sentry"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("sentry-webhooks/")
    assert request.headers["X-Spyglass-Dedup-Key"] == f"issue-{issue.pk}"
    assert "Sentry-Hook-Signature" not in request.headers
    body = request.json()
    assert body["id"] == str(issue.pk)
    assert body["project"] == "backend"
    assert body["project_slug"] == "backend"
    assert body["project_name"] == "Backend"
    assert body["logger"] == "shop"
    assert body["level"] == "error"
    assert body["culprit"] == "shop.checkout in pay"
    assert body["message"] == "ValueError: card declined"
    assert body["url"] == f"http://spyglass.test/acme/shop/issues/{issue.number}/"
    assert body["triggering_rules"] == ["New issues"]
    event = body["event"]
    assert event["event_id"] == event["id"] == "0476467adf8f499ea795a48fcc4bf290"
    assert event["exception"]["values"][0]["type"] == "ValueError"
    assert event["tags"] == [
        ["environment", "production"],
        ["release", "shop@1.2.0"],
        ["browser", "Firefox"],
    ]
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DELIVERED
    [attempt] = DeliveryAttempt.objects.all()
    assert attempt.ok and attempt.status_code == 200 and attempt.number == 1
    assert attempt.channel_id == channel.pk and attempt.error == ""


@LOOPBACK
def test_a_webhook_with_a_secret_is_signed_with_hmac_sha256(world: World) -> None:
    issue = make_issue(world.project)
    with http_receiver() as receiver:
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url, secret="s3cret")
        send(channel, issue_alert(issue))
        deliver_all()
    [request] = receiver.requests
    expected = sign("s3cret", request.body)
    assert request.headers["Sentry-Hook-Signature"] == expected
    assert request.headers["X-Spyglass-Signature"] == f"sha256={expected}"
    assert request.headers["Sentry-Hook-Timestamp"].isdigit()
    assert sign("other", request.body) != expected


@LOOPBACK
def test_temporary_failures_are_retried_with_backoff_until_delivered(world: World) -> None:
    issue = make_issue(world.project)
    start = timezone.now()
    with (
        http_receiver() as receiver,
        override_settings(NOTIFY_RETRY_SECONDS=60, NOTIFY_RETRY_MAX_SECONDS=3600),
        time_machine.travel(start, tick=False) as clock,
    ):
        receiver.script = [503, 500]
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url)
        send(channel, issue_alert(issue))
        assert deliver_all() == 1
        delivery = Delivery.objects.get()
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.next_attempt_at == start + timedelta(seconds=60)
        assert deliver_all() == 0  # not due yet
        clock.shift(61)
        assert deliver_all() == 1
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == start + timedelta(seconds=61 + 120)
        clock.shift(121)
        assert deliver_all() == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED and delivery.attempts == 3
    attempts = list(DeliveryAttempt.objects.order_by("number"))
    assert [(a.number, a.ok, a.status_code) for a in attempts] == [
        (1, False, 503),
        (2, False, 500),
        (3, True, 200),
    ]
    assert attempts[0].error.startswith("HTTP 503")
    assert len(receiver.requests) == 3
    channel.refresh_from_db()
    assert not channel.is_broken


@LOOPBACK
def test_a_4xx_is_permanent_and_marks_the_channel_broken(world: World) -> None:
    issue = make_issue(world.project)
    with http_receiver() as receiver:
        receiver.script = [410]
        receiver.response_body = b"this hook was deleted"
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url)
        send(channel, issue_alert(issue))
        deliver_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 1
    channel.refresh_from_db()
    assert channel.is_broken
    assert "HTTP 410: this hook was deleted" in channel.broken_reason
    # Later sends to a broken channel are logged as skipped, not attempted.
    send(channel, issue_alert(issue))
    assert Delivery.objects.filter(status=Delivery.Status.SKIPPED).count() == 1
    assert deliver_all() == 0
    channel.mark_fixed()
    assert not channel.is_broken and channel.broken_reason == ""


def test_exhausted_retries_mark_the_channel_broken(world: World) -> None:
    issue = make_issue(world.project)
    with (
        http_receiver() as receiver,
        override_settings(
            OUTBOUND_ALLOWLIST="127.0.0.1", NOTIFY_RETRY_SECONDS=0, NOTIFY_MAX_ATTEMPTS=3
        ),
    ):
        receiver.default_status = 502
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url)
        send(channel, issue_alert(issue))
        for _ in range(5):
            deliver_all()
    assert len(receiver.requests) == 3
    assert Delivery.objects.get().status == Delivery.Status.FAILED
    channel.refresh_from_db()
    assert channel.is_broken and "failed 3 times" in channel.broken_reason


def test_the_ssrf_guard_fails_a_delivery_permanently(world: World) -> None:
    issue = make_issue(world.project)
    with http_receiver() as receiver, override_settings(OUTBOUND_ALLOWLIST=""):
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url)
        send(channel, issue_alert(issue))
        deliver_all()
    assert receiver.requests == []
    attempt = DeliveryAttempt.objects.get()
    assert attempt.permanent and "loopback" in attempt.error
    channel.refresh_from_db()
    assert channel.is_broken


def test_email_goes_out_over_smtp_as_text_and_html_with_links(
    world: World, settings: object
) -> None:
    issue = make_issue(world.project)
    with smtp_receiver() as smtp:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=smtp.host,
            EMAIL_PORT=smtp.port,
        ):
            channel = make_channel(world.org, "email", "ops", to=["ops@example.com", "b@x.org"])
            send(channel, issue_alert(issue, title="ValueError: <b>card</b> declined"))
            deliver_all()
        [(sender, recipients, message)] = smtp.messages
    assert recipients == ["ops@example.com", "b@x.org"]
    assert "spyglass@localhost" in sender
    assert message["Subject"] == "[backend] ValueError: <b>card</b> declined"
    plain_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    assert plain_part is not None and html_part is not None
    text, html = plain_part.get_content(), html_part.get_content()
    assert "ValueError: <b>card</b> declined" in text
    assert "Open in Spyglass: http://spyglass.test/acme/shop/issues/7/" in text
    assert "Culprit: shop.checkout in pay" in text
    assert "Environment: production" in text
    assert "Release: shop@1.2.0" in text
    assert "browser = Firefox (30)" in text
    assert "ValueError: &lt;b&gt;card&lt;/b&gt; declined" in html
    assert "<b>card</b>" not in html
    assert 'href="http://spyglass.test/acme/shop/issues/7/"' in html
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_an_unreachable_smtp_server_is_a_temporary_failure(world: World) -> None:
    from spyglass.notifications.tests.receivers import free_port

    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=free_port(),
    ):
        channel = make_channel(world.org, "email", "ops", to=["ops@example.com"])
        send(channel, issue_alert(make_issue(world.project)))
        deliver_all()
    attempt = DeliveryAttempt.objects.get()
    assert not attempt.ok and not attempt.permanent and "SMTP" in attempt.error
    assert Delivery.objects.get().status == Delivery.Status.PENDING


def test_email_users_respects_preferences(world: World) -> None:
    from spyglass.notifications.models import NotificationPreference, ProjectAlertEmail

    issue = make_issue(world.project)
    NotificationPreference.objects.create(user=world.bob, assigned=False)
    workflow = Notification(
        kind="workflow",
        title="Assigned to you",
        text="alice assigned an issue to you",
        url="http://spyglass.test/",
        level="info",
        dedup_key="issue-1",
        issue_id=issue.pk,
        fields={"workflow": "assigned"},
    )
    email_users([world.alice.pk, world.bob.pk], workflow)
    assert list(Delivery.objects.values_list("user_id", flat=True)) == [world.alice.pk]
    Delivery.objects.all().delete()
    ProjectAlertEmail.objects.create(user=world.alice, project=world.project, enabled=False)
    email_users([world.alice.pk, world.bob.pk], issue_alert(issue))
    assert list(Delivery.objects.values_list("user_id", flat=True)) == [world.bob.pk]
    with (
        smtp_receiver() as smtp,
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=smtp.host,
            EMAIL_PORT=smtp.port,
        ),
    ):
        deliver_all()
    [(_, recipients, _)] = smtp.messages
    assert recipients == ["bob@example.com"]


def test_finished_deliveries_are_forgotten_after_30_days(world: World) -> None:
    from datetime import timedelta

    channel = make_channel(world.org, "webhook", "hook", url="http://127.0.0.1:9/")
    issue = make_issue(world.project)
    for status in ("delivered", "failed", "skipped", "pending"):
        send(channel, issue_alert(issue, dedup_key=status))
        Delivery.objects.filter(notification__dedup_key=status).update(status=status)
    old = Delivery.objects.get(notification__dedup_key="delivered")
    DeliveryAttempt.objects.create(delivery=old, channel=channel, number=1, ok=True)
    now = timezone.now()
    assert outbox.prune(now + timedelta(days=29)) == 0
    assert outbox.prune(now + timedelta(days=31)) == 3
    assert list(Delivery.objects.values_list("status", flat=True)) == ["pending"]
    assert DeliveryAttempt.objects.count() == 0


@LOOPBACK
def test_a_metric_alert_reaches_the_webhook_without_an_issue(world: World) -> None:
    alert = Notification(
        kind="metric_alert",
        title="Critical: p99(transaction.duration) above 3s",
        text="Checkout latency: p99 is 3.4s over the last 5 minutes.",
        url="http://spyglass.test/acme/alerts/incidents/3/",
        level="critical",
        dedup_key="incident-3",
        rule_name="Checkout latency",
        incident_id=3,
        fields={"value": "3.4s", "projects": "backend, frontend"},
    )
    with http_receiver() as receiver:
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url)
        send(channel, alert)
        deliver_all()
    [request] = receiver.requests
    body = request.json()
    assert body["id"] == "3"
    assert body["project"] == body["project_slug"] == body["project_name"] == "backend"
    assert body["level"] == "critical" and body["culprit"] == ""
    assert body["message"] == "Critical: p99(transaction.duration) above 3s"
    assert body["triggering_rules"] == ["Checkout latency"]
    assert body["event"] == {}
    assert request.headers["X-Spyglass-Dedup-Key"] == "incident-3"
