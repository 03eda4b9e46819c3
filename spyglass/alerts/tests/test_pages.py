"""The alert pages: rule list, forms with validation, mute, history, incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from spyglass.alerts import conditions, filters
from spyglass.alerts.models import (
    FOREVER,
    Incident,
    IncidentActivity,
    IncidentStatus,
    MetricRule,
    MetricValue,
    Rule,
    RuleFire,
)
from spyglass.alerts.tests.helpers import FIRST_SEEN, make_channel, make_rule
from spyglass.api.tests.factory import make_issue
from spyglass.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(world: World, client: Client) -> Client:
    client.force_login(world.alice)
    return client


def base(world: World) -> str:
    return f"/{world.org.slug}/{world.project.slug}/alerts/"


def test_the_project_nav_links_the_alerts_page_which_lists_the_rules(
    world: World, alice: Client
) -> None:
    make_rule(world.project, name="New issues", conds=[FIRST_SEEN])
    page = alice.get(f"/{world.org.slug}/{world.project.slug}/issues/").content.decode()
    assert f'href="{base(world)}">Alerts</a>' in page
    listed = alice.get(base(world)).content.decode()
    assert "New issues" in listed
    assert "A new issue is created" in listed
    assert "never triggered" in listed


def test_creating_an_issue_rule_in_the_form_stores_sentrys_json(
    world: World, alice: Client
) -> None:
    make_channel(world)
    response = alice.post(
        base(world) + "new/",
        {
            "name": "Bursts",
            "action_match": "any",
            "filter_match": "all",
            "frequency_on": "on",
            "frequency_value": "10",
            "frequency_interval": "1m",
            "level_match": "gte",
            "level": "40",
            "channels": ["ops-hook"],
            "email": "IssueOwners",
            "frequency": "30",
        },
    )
    rule = Rule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{base(world)}{rule.pk}/"
    assert rule.conditions == [{"id": conditions.FREQUENCY, "value": 10, "interval": "1m"}]
    assert rule.filters == [{"id": filters.LEVEL, "match": "gte", "level": "40"}]
    assert [a.get("service") or a.get("targetType") for a in rule.actions] == [
        "ops-hook",
        "IssueOwners",
    ]
    assert rule.created_by == world.alice
    # Editing shows the stored values back.
    edit = alice.get(f"{base(world)}{rule.pk}/edit/").content.decode()
    assert 'value="Bursts"' in edit
    assert 'name="frequency_value" value="10"' in edit


def test_an_invalid_form_says_why_and_stores_nothing(world: World, alice: Client) -> None:
    response = alice.post(
        base(world) + "new/",
        {"name": "Nothing", "action_match": "all", "filter_match": "all", "frequency": "30"},
    )
    assert response.status_code == 200
    assert "A rule needs at least one condition." in response.content.decode()
    assert not Rule.objects.exists()


def test_muting_and_unmuting_a_rule(world: World, alice: Client) -> None:
    rule = make_rule(world.project, conds=[FIRST_SEEN])
    alice.post(f"{base(world)}{rule.pk}/mute/", {"for": "1d"})
    rule.refresh_from_db()
    assert rule.is_muted()
    assert rule.muted_until is not None
    assert rule.muted_until < timezone.now() + timedelta(days=1, minutes=1)
    alice.post(f"{base(world)}{rule.pk}/mute/", {"for": "forever"})
    rule.refresh_from_db()
    assert rule.muted_until == FOREVER
    assert "Muted" in alice.get(f"{base(world)}{rule.pk}/").content.decode()
    alice.post(f"{base(world)}{rule.pk}/mute/", {"for": "unmute"})
    rule.refresh_from_db()
    assert rule.muted_until is None


def test_a_rules_history_lists_its_fires_with_their_issues(world: World, alice: Client) -> None:
    rule = make_rule(world.project, conds=[FIRST_SEEN])
    issue = make_issue(world.project, "<b>KeyError</b>: 'x'")
    RuleFire.objects.create(
        rule=rule, issue=issue, reasons=["A new issue is created"], notified=["channel ops-hook"]
    )
    page = alice.get(f"{base(world)}{rule.pk}/").content.decode()
    assert "&lt;b&gt;KeyError&lt;/b&gt;" in page
    assert f"/issues/{issue.number}/" in page
    assert "→ channel ops-hook" in page
    assert "(1 trigger)" in page


def test_another_organizations_rules_and_incidents_are_404(world: World, client: Client) -> None:
    rule = make_rule(world.project, conds=[FIRST_SEEN])
    client.force_login(world.charlie)
    for path in ("", "new/", f"{rule.pk}/", f"{rule.pk}/edit/", "metric/new/"):
        assert client.get(base(world) + path).status_code == 404, path
    assert client.post(f"{base(world)}{rule.pk}/mute/", {"for": "1d"}).status_code == 404
    assert client.post(f"{base(world)}{rule.pk}/delete/").status_code == 404
    assert client.get(f"/{world.org.slug}/alerts/incidents/").status_code == 404
    assert Rule.objects.filter(pk=rule.pk, muted_until=None).exists()


def test_a_rule_of_another_project_is_404_by_guessed_id(world: World, alice: Client) -> None:
    rule = make_rule(world.other_project, conds=[FIRST_SEEN])
    assert alice.get(f"{base(world)}{rule.pk}/").status_code == 404
    assert alice.get(f"{base(world)}{2**70}/").status_code == 404


def test_creating_a_metric_rule_in_the_form(world: World, alice: Client) -> None:
    make_channel(world, "pager", "pagerduty")
    response = alice.post(
        base(world) + "metric/new/",
        {
            "name": "Latency",
            "projects": [world.project.slug],
            "dataset": "transactions",
            "aggregate": "p99(transaction.duration)",
            "query": 'transaction:"GET /api/checkout"',
            "time_window": "5",
            "threshold_type": "0",
            "critical": "3000",
            "critical_channels": ["pager"],
            "warning": "1000",
            "warning_aggregate": "p95(transaction.duration)",
        },
    )
    assert response.status_code == 302, response.content.decode()
    rule = MetricRule.objects.get()
    assert rule.triggers == [
        {
            "label": "critical",
            "alertThreshold": 3000.0,
            "actions": [
                {"type": "pagerduty", "targetType": "specific", "targetIdentifier": "pager"}
            ],
        },
        {
            "label": "warning",
            "alertThreshold": 1000.0,
            "actions": [],
            "aggregate": "p95(transaction.duration)",
        },
    ]
    assert list(rule.projects.all()) == [world.project]
    detail = alice.get(f"{base(world)}metric/{rule.pk}/").content.decode()
    assert "p95(transaction.duration)" in detail
    bad = alice.post(
        base(world) + "metric/new/",
        {
            "name": "Bad",
            "projects": [world.project.slug],
            "dataset": "events",
            "aggregate": "p99(transaction.duration)",
            "time_window": "5",
            "threshold_type": "0",
            "critical": "3",
        },
    )
    assert "Unknown aggregate" in bad.content.decode()


def test_an_incident_page_shows_its_timeline_and_chart(world: World, alice: Client) -> None:
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Errors",
        aggregate="count()",
        time_window=5,
        triggers=[{"label": "critical", "alertThreshold": 10, "actions": []}],
    )
    rule.projects.add(world.project)
    now = timezone.now().replace(second=0, microsecond=0)
    for n, value in enumerate([2.0, 12.0, 15.0, 3.0]):
        MetricValue.objects.create(rule=rule, at=now - timedelta(minutes=4 - n), value=value)
    incident = Incident.objects.create(
        rule=rule,
        organization=world.org,
        identifier=1,
        title="Errors",
        status=IncidentStatus.CLOSED,
        started_at=now - timedelta(minutes=3),
        closed_at=now,
        peak_value=15.0,
    )
    for status, minutes in (
        (IncidentStatus.OPEN, 3),
        (IncidentStatus.CRITICAL, 3),
        (IncidentStatus.CLOSED, 0),
    ):
        IncidentActivity.objects.create(
            incident=incident, status=status, value=12.0, at=now - timedelta(minutes=minutes)
        )
    page = alice.get(f"/{world.org.slug}/alerts/incidents/1/").content.decode()
    assert "Detected" in page
    assert "Critical" in page
    assert "Resolved" in page
    assert page.count('<rect class="bar"') == 4
    assert 'class="threshold threshold-critical"' in page
    assert "a bar a minute" in page
    assert "</span>critical 10 " in page
    listed = alice.get(f"/{world.org.slug}/alerts/incidents/?state=all").content.decode()
    assert "#1 Errors" in listed
    assert alice.get(f"/{world.org.slug}/alerts/incidents/2/").status_code == 404


def test_editing_a_metric_rule_shows_its_values_and_saves_changes(
    world: World, alice: Client
) -> None:
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Errors",
        aggregate="count()",
        time_window=5,
        triggers=[{"label": "critical", "alertThreshold": 10.0, "actions": []}],
    )
    rule.projects.add(world.project)
    url = f"{base(world)}metric/{rule.pk}/edit/"
    page = alice.get(url).content.decode()
    assert 'name="critical" value="10.0"' in page
    response = alice.post(
        url,
        {
            "name": "Errors",
            "projects": [world.project.slug, world.other_project.slug],
            "dataset": "events",
            "aggregate": "count()",
            "time_window": "15",
            "threshold_type": "0",
            "critical": "20",
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.time_window == 15
    assert rule.triggers[0]["alertThreshold"] == 20.0
    assert {p.slug for p in rule.projects.all()} == {"backend", "frontend"}


@pytest.mark.parametrize("model", ["rule", "rulefire", "metricrule", "incident"])
def test_the_admin_lists_render(world: World, alice: Client, model: str) -> None:
    make_rule(world.project, conds=[FIRST_SEEN])
    assert alice.get(f"/admin/alerts/{model}/").status_code == 200
