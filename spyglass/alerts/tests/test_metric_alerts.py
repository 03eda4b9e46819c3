"""Metric alert rules over real sentry-sdk transactions and errors: incidents open, escalate
and resolve, and every change is a notification (a resolve with the incident's dedup key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from spyglass.alerts import metric_alerts, metrics
from spyglass.alerts.models import (
    Incident,
    IncidentActivity,
    IncidentStatus,
    MetricRule,
    MetricValue,
)
from spyglass.alerts.tests.helpers import (
    deliveries,
    digest_errors,
    digest_transactions,
    make_channel,
)
from spyglass.notifications import outbox
from spyglass.notifications.models import Channel
from spyglass.notifications.tests.receivers import http_receiver
from spyglass.test import World

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


def latency_rule(world: World, **fields: Any) -> MetricRule:
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Checkout latency",
        dataset="transactions",
        aggregate="p99(transaction.duration)",
        query='transaction:"GET /api/checkout"',
        time_window=5,
        triggers=[
            {
                "label": "critical",
                "alertThreshold": 3000,
                "actions": [
                    {"type": "pagerduty", "targetType": "specific", "targetIdentifier": "pager"}
                ],
            },
            {
                "label": "warning",
                "alertThreshold": 1000,
                "aggregate": "p95(transaction.duration)",
                "actions": [
                    {"type": "slack", "targetType": "specific", "targetIdentifier": "chat"}
                ],
            },
        ],
        **fields,
    )
    rule.projects.add(world.project)
    return rule


def evaluate(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        return metric_alerts.evaluate_all()


def test_p95_over_a_second_warns_p99_over_three_goes_critical_recovery_resolves(
    world: World,
) -> None:
    pager, chat = make_channel(world, "pager", "pagerduty"), make_channel(world, "chat", "slack")
    rule = latency_rule(world)
    # 100 transactions: 94 fast, 6 at 1.5 s → p95 ≈ 1.5 s, p99 1.5 s: a warning.
    digest_transactions(world, [100.0] * 94 + [1500.0] * 6, at=T0 - timedelta(minutes=2))
    assert evaluate(T0) == 1
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.WARNING
    assert [n["title"] for n in deliveries(chat)] == [
        "Warning: p95(transaction.duration) above 1.00s"
    ]
    assert deliveries(pager) == []
    # Another minute of slow traffic: 4 more at 5 s → p99 above 3 s: critical.
    digest_transactions(world, [5000.0] * 4, at=T0 + timedelta(seconds=10))
    assert evaluate(T0 + timedelta(minutes=1)) == 1
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CRITICAL
    trigger = deliveries(pager)
    assert [(n["level"], n["action"]) for n in trigger] == [("critical", "trigger")]
    assert trigger[0]["title"] == "Critical: p99(transaction.duration) above 3.00s"
    assert trigger[0]["dedup_key"] == f"spyglass-incident-{incident.pk}"
    assert trigger[0]["incident_id"] == incident.pk
    assert trigger[0]["url"].endswith(f"/{world.org.slug}/alerts/incidents/{incident.identifier}/")
    # Nothing new while it stays critical.
    assert evaluate(T0 + timedelta(minutes=2)) == 0
    # Ten minutes later only fast traffic: the window recovers and the incident resolves.
    digest_transactions(world, [80.0] * 50, at=T0 + timedelta(minutes=9))
    assert evaluate(T0 + timedelta(minutes=10)) == 1
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLOSED
    assert incident.closed_at == T0 + timedelta(minutes=10)
    resolve = deliveries(pager)[-1]
    assert (resolve["action"], resolve["level"]) == ("resolve", "resolved")
    assert resolve["dedup_key"] == trigger[0]["dedup_key"]
    assert deliveries(chat)[-1]["action"] == "resolve"
    timeline = [
        (a.previous_status, a.status)
        for a in IncidentActivity.objects.filter(incident=incident).order_by("at", "id")
    ]
    assert timeline == [
        (None, IncidentStatus.OPEN),
        (IncidentStatus.OPEN, IncidentStatus.WARNING),
        (IncidentStatus.WARNING, IncidentStatus.CRITICAL),
        (IncidentStatus.CRITICAL, IncidentStatus.CLOSED),
    ]
    assert MetricValue.objects.filter(rule=rule).count() == 4


def test_error_rate_above_five_percent_over_five_minutes(world: World) -> None:
    hook = make_channel(world, "hook", "webhook")
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Error rate",
        dataset="events",
        aggregate="error_rate()",
        time_window=5,
        triggers=[
            {
                "label": "critical",
                "alertThreshold": 0.05,
                "actions": [
                    {"type": "webhook", "targetType": "specific", "targetIdentifier": "hook"}
                ],
            }
        ],
    )
    rule.projects.add(world.project)
    at = T0 - timedelta(minutes=3)
    digest_transactions(world, [50.0] * 100, at=at)
    with time_machine.travel(at, tick=False):
        digest_errors(world, 5)
    assert evaluate(T0) == 0  # 5 %: not above
    assert rule.values.get().value == pytest.approx(0.05)
    with time_machine.travel(at, tick=False):
        digest_errors(world, 2)
    assert evaluate(T0 + timedelta(minutes=1)) == 1  # 7 %
    sent = deliveries(hook)
    assert [n["title"] for n in sent] == ["Critical: error_rate() above 5.00%"]
    assert sent[0]["fields"]["value"] == "7.00%"
    # Without transactions in the window the rate is unknown: nothing changes.
    assert evaluate(T0 + timedelta(minutes=10)) == 0
    assert rule.values.order_by("at").last().value is None  # type: ignore[union-attr]
    # Traffic without errors: 0 %, resolved.
    digest_transactions(world, [50.0] * 10, at=T0 + timedelta(minutes=9))
    assert evaluate(T0 + timedelta(minutes=11)) == 1
    assert Incident.objects.get().status == IncidentStatus.CLOSED


def test_ten_consecutive_500s_of_one_endpoint_go_critical(world: World) -> None:
    """(Not a health check: the default inbound filters drop those before they are stored.)"""
    hook = make_channel(world, "hook", "webhook")
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Payments down",
        dataset="transactions",
        aggregate="consecutive_failures()",
        query='transaction:"POST /api/payments"',
        time_window=10,
        triggers=[
            {
                "label": "critical",
                "alertThreshold": 9,
                "actions": [
                    {"type": "webhook", "targetType": "specific", "targetIdentifier": "hook"}
                ],
            }
        ],
    )
    rule.projects.add(world.project)
    start = T0 - timedelta(minutes=5)
    digest_transactions(world, [20.0], at=start, name="POST /api/payments")
    for n in range(9):
        digest_transactions(
            world,
            [20.0],
            at=start + timedelta(seconds=10 * (n + 1)),
            name="POST /api/payments",
            http_status=500,
        )
    # Another endpoint doing well does not break the run.
    digest_transactions(
        world, [20.0], at=start + timedelta(seconds=95), name="GET /api/other", http_status=200
    )
    assert evaluate(T0) == 0  # nine in a row
    digest_transactions(
        world, [20.0], at=start + timedelta(seconds=100), name="POST /api/payments", http_status=500
    )
    assert evaluate(T0 + timedelta(minutes=1)) == 1
    assert rule.values.order_by("at").last().value == 10.0  # type: ignore[union-attr]
    assert [n["level"] for n in deliveries(hook)] == ["critical"]
    # One success ends the run; the incident resolves.
    digest_transactions(world, [20.0], at=T0 + timedelta(seconds=30), name="POST /api/payments")
    assert evaluate(T0 + timedelta(minutes=2)) == 1
    assert [n["action"] for n in deliveries(hook)] == ["trigger", "resolve"]


def test_a_percent_change_threshold_compares_with_the_earlier_window(world: World) -> None:
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Traffic doubled",
        dataset="transactions",
        aggregate="count()",
        time_window=60,
        comparison_delta=1440,
        triggers=[{"label": "critical", "alertThreshold": 50, "actions": []}],
    )
    rule.projects.add(world.project)
    digest_transactions(world, [10.0] * 10, at=T0 - timedelta(days=1, minutes=30))
    digest_transactions(world, [10.0] * 16, at=T0 - timedelta(minutes=30))
    assert evaluate(T0) == 1
    assert rule.values.get().value == pytest.approx(60.0)


def test_a_muted_rule_keeps_its_incidents_but_sends_nothing(world: World) -> None:
    pager, chat = make_channel(world, "pager", "pagerduty"), make_channel(world, "chat", "slack")
    latency_rule(world, muted_until=T0 + timedelta(days=1))
    digest_transactions(world, [5000.0] * 10, at=T0 - timedelta(minutes=1))
    assert evaluate(T0) == 1
    assert Incident.objects.get().status == IncidentStatus.CRITICAL
    assert deliveries(pager) == deliveries(chat) == []


def test_raw_rows_give_sentrys_aggregates() -> None:
    rows = [
        (100.0, "ok", 200, "a"),
        (200.0, "internal_error", 500, "b"),
        (1300.0, "ok", 200, "a"),
        (400.0, "ok", 503, ""),
    ]
    assert metrics.from_rows("count()", rows, 5) == 4
    assert metrics.from_rows("count_unique(user)", rows, 5) == 2
    assert metrics.from_rows("failure_rate()", rows, 5) == 0.5
    assert metrics.from_rows("avg(transaction.duration)", rows, 5) == 500.0
    assert metrics.from_rows("p50(transaction.duration)", rows, 5) == 300.0
    assert metrics.from_rows("apdex()", rows, 5) == pytest.approx((2 + 0.5) / 4)
    assert metrics.from_rows("apdex(1500)", rows, 5) == 1.0
    assert metrics.from_rows("tpm()", rows, 5) == 0.8
    assert metrics.from_rows("p99(transaction.duration)", [], 5) is None


@override_settings(OUTBOUND_ALLOWLIST="127.0.0.1")
def test_pagerduty_receives_the_trigger_then_the_resolve_on_one_dedup_key(world: World) -> None:
    """Through the notifications outbox to a PagerDuty Events API receiver on loopback."""
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Checkout p95",
        dataset="transactions",
        aggregate="p95(transaction.duration)",
        time_window=5,
        triggers=[
            {
                "label": "critical",
                "alertThreshold": 1000,
                "actions": [
                    {"type": "pagerduty", "targetType": "specific", "targetIdentifier": "pd"}
                ],
            }
        ],
    )
    rule.projects.add(world.project)
    Channel.objects.create(
        organization=world.org,
        kind="pagerduty",
        slug="pd",
        name="PD",
        config={"routing_key": "R" * 32},
    )
    digest_transactions(world, [2000.0] * 20, at=T0 - timedelta(minutes=1))
    with http_receiver() as receiver:
        receiver.default_status = 202
        with override_settings(PAGERDUTY_EVENTS_URL=receiver.url + "/v2/enqueue"):
            assert evaluate(T0) == 1
            outbox.run_once("test", 10)
            digest_transactions(world, [100.0] * 20, at=T0 + timedelta(minutes=9))
            assert evaluate(T0 + timedelta(minutes=10)) == 1
            outbox.run_once("test", 10)
    incident = Incident.objects.get()
    sent = [r.json() for r in receiver.requests]
    assert [(s["event_action"], s["dedup_key"]) for s in sent] == [
        ("trigger", f"spyglass-incident-{incident.pk}"),
        ("resolve", f"spyglass-incident-{incident.pk}"),
    ]
    assert sent[0]["payload"]["summary"] == "Critical: p95(transaction.duration) above 1.00s"
    assert sent[0]["payload"]["severity"] == "critical"
