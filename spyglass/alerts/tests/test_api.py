"""The alert rule endpoints of /api/0/ in Sentry's shapes: a rule written as Sentry's JSON
reads back as written."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from spyglass.alerts.models import MetricRule, Rule
from spyglass.alerts.tests.helpers import make_channel
from spyglass.api.tests.factory import auth, token_for
from spyglass.projects.models import Member, Organization, Role
from spyglass.test import World

pytestmark = pytest.mark.django_db

WRITE = ("alerts:read", "alerts:write")

ISSUE_RULE: dict[str, Any] = {
    "name": "Checkout errors",
    "actionMatch": "any",
    "filterMatch": "all",
    "frequency": 60,
    "environment": "production",
    "conditions": [
        {"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"},
        {
            "id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
            "value": 10,
            "interval": "1m",
        },
        {
            "id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
            "value": 50,
            "interval": "1h",
            "comparisonType": "percent",
            "comparisonInterval": "1d",
        },
    ],
    "filters": [
        {"id": "sentry.rules.filters.level.LevelFilter", "match": "gte", "level": "40"},
        {
            "id": "sentry.rules.filters.tagged_event.TaggedEventFilter",
            "key": "transaction",
            "match": "sw",
            "value": "POST /api/checkout",
        },
    ],
    "actions": [
        {
            "id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction",
            "service": "ops-hook",
        },
        {
            "id": "sentry.mail.actions.NotifyEmailAction",
            "targetType": "IssueOwners",
            "fallthroughType": "ActiveMembers",
        },
    ],
}


def without_names(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "name"} for item in items]


def url(world: World, rule_id: int | str | None = None) -> str:
    base = f"/api/0/projects/{world.org.slug}/{world.project.slug}/rules/"
    return base if rule_id is None else f"{base}{rule_id}/"


def test_an_issue_rule_created_as_sentry_json_reads_back_as_written(
    world: World, client: Client
) -> None:
    make_channel(world)
    headers = auth(token_for(world.bob, WRITE))
    created = client.post(url(world), ISSUE_RULE, content_type="application/json", headers=headers)
    assert created.status_code == 200, created.content
    rule_id = created.json()["id"]
    got = client.get(url(world, rule_id), headers=headers).json()
    for key in ("name", "actionMatch", "filterMatch", "frequency", "environment"):
        assert got[key] == ISSUE_RULE[key]
    for key in ("conditions", "filters", "actions"):
        assert without_names(got[key]) == ISSUE_RULE[key]
    assert got["conditions"][1]["name"] == "The issue is seen more than 10 times in 1m"
    assert got["projects"] == [world.project.slug]
    assert got["createdBy"]["email"] == "bob@example.com"
    assert got["lastTriggered"] is None
    listed = client.get(url(world), headers=headers).json()
    assert [r["id"] for r in listed] == [rule_id]
    # PUT replaces the rule.
    changed = {**ISSUE_RULE, "name": "Renamed", "frequency": 5, "filters": []}
    put = client.put(url(world, rule_id), changed, content_type="application/json", headers=headers)
    assert put.status_code == 200
    rule = Rule.objects.get()
    assert (rule.name, rule.frequency, rule.filters) == ("Renamed", 5, [])
    assert client.delete(url(world, rule_id), headers=headers).status_code == 202
    assert not Rule.objects.exists()


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"conditions": []}, "a rule needs at least one condition"),
        ({"actions": []}, "a rule needs at least one action"),
        ({"frequency": 1}, "frequency must be a number of at least 5"),
        ({"conditions": [{"id": "sentry.rules.conditions.nope"}]}, "unknown condition"),
        (
            {
                "conditions": [
                    {
                        "id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
                        "value": 1,
                        "interval": "2m",
                    }
                ]
            },
            "interval must be one of",
        ),
        (
            {
                "actions": [
                    {
                        "id": "sentry.rules.actions.notify_event_service.NotifyEventServiceAction",
                        "service": "nowhere",
                    }
                ]
            },
            "no channel 'nowhere'",
        ),
        ({"actionMatch": "most"}, "actionMatch must be one of"),
        ({"name": ""}, "name is required"),
    ],
)
def test_an_invalid_issue_rule_is_a_400_saying_why(
    world: World, client: Client, change: dict[str, Any], detail: str
) -> None:
    make_channel(world)
    headers = auth(token_for(world.alice, WRITE))
    response = client.post(
        url(world), {**ISSUE_RULE, **change}, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_rules_of_another_organization_are_404_and_writing_needs_a_write_scope(
    world: World, client: Client
) -> None:
    make_channel(world)
    rule = Rule.objects.create(project=world.project, name="r", conditions=[], actions=[])
    outsider = auth(token_for(world.charlie, WRITE))
    assert client.get(url(world), headers=outsider).status_code == 404
    assert client.get(url(world, rule.pk), headers=outsider).status_code == 404
    other = Organization.get_or_create_named("Other")
    Member.objects.create(organization=other, user=world.charlie, role=Role.OWNER)
    assert client.delete(url(world, rule.pk), headers=outsider).status_code == 404
    reader = auth(token_for(world.bob, ("alerts:read",)))
    assert client.get(url(world, rule.pk), headers=reader).status_code == 200
    assert client.delete(url(world, rule.pk), headers=reader).status_code == 403
    assert client.get(url(world, "abc"), headers=reader).status_code == 404


METRIC_RULE: dict[str, Any] = {
    "name": "Checkout latency",
    "dataset": "transactions",
    "aggregate": "p99(transaction.duration)",
    "query": 'transaction:"POST /api/checkout"',
    "timeWindow": 5,
    "thresholdType": 0,
    "resolveThreshold": 800,
    "environment": "production",
    "projects": ["backend"],
    "triggers": [
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
            "actions": [{"type": "email", "targetType": "user", "targetIdentifier": "1"}],
        },
    ],
}


def test_a_metric_rule_round_trips_with_its_triggers_and_actions(
    world: World, client: Client
) -> None:
    make_channel(world, "pager", "pagerduty")
    body = {**METRIC_RULE, "projects": [world.project.slug]}
    body["triggers"][1]["actions"][0]["targetIdentifier"] = str(world.alice.pk)
    headers = auth(token_for(world.alice, WRITE))
    base = f"/api/0/organizations/{world.org.slug}/alert-rules/"
    created = client.post(base, body, content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    got = client.get(f"{base}{created.json()['id']}/", headers=headers).json()
    for key in (
        "name",
        "dataset",
        "aggregate",
        "query",
        "thresholdType",
        "resolveThreshold",
        "environment",
        "projects",
    ):
        assert got[key] == body[key], key
    assert got["timeWindow"] == 5.0
    assert got["queryType"] == 1
    for sent, read in zip(body["triggers"], got["triggers"], strict=True):
        assert read["label"] == sent["label"]
        assert read["alertThreshold"] == sent["alertThreshold"]
        assert [
            {k: a[k] for k in ("type", "targetType", "targetIdentifier")} for a in read["actions"]
        ] == sent["actions"]
    assert [r["id"] for r in client.get(base, headers=headers).json()] == [got["id"]]
    put = client.put(
        f"{base}{got['id']}/",
        {**body, "timeWindow": 15},
        content_type="application/json",
        headers=headers,
    )
    assert put.status_code == 200
    assert MetricRule.objects.get().time_window == 15
    assert client.delete(f"{base}{got['id']}/", headers=headers).status_code == 204


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"timeWindow": 7}, "timeWindow must be one of"),
        ({"aggregate": "p42(transaction.duration)"}, "unknown aggregate"),
        ({"projects": ["nope"]}, "doesn't exist"),
        ({"triggers": []}, "a critical trigger is required"),
        ({"query": "transaction:"}, "query:"),
        (
            {
                "triggers": [
                    {"label": "critical", "alertThreshold": 100, "actions": []},
                    {"label": "warning", "alertThreshold": 200, "actions": []},
                ]
            },
            "less severe",
        ),
    ],
)
def test_an_invalid_metric_rule_is_a_400_saying_why(
    world: World, client: Client, change: dict[str, Any], detail: str
) -> None:
    make_channel(world, "pager", "pagerduty")
    body = {**METRIC_RULE, "projects": [world.project.slug], **change}
    body["triggers"] = [
        {**t, "actions": [a for a in t["actions"] if a["type"] != "email"]}
        for t in body["triggers"]
    ]
    response = client.post(
        f"/api/0/organizations/{world.org.slug}/alert-rules/",
        body,
        content_type="application/json",
        headers=auth(token_for(world.alice, WRITE)),
    )
    assert response.status_code == 400
    assert detail in response.json()["detail"]
