"""Metric alert emails and the per-project alert email switch (a rule watching several
projects emails a user unless every one of them is off for that user), and the pruning of
alert history past 90 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spyglass.alerts import metric_alerts, prune
from spyglass.alerts.models import (
    Incident,
    IncidentStatus,
    MetricRule,
    MetricValue,
    Rule,
    RuleFire,
)
from spyglass.core.scheduler import JOBS
from spyglass.issues.models import Issue
from spyglass.notifications.models import Delivery, ProjectAlertEmail
from spyglass.projects.models import Project, Team
from spyglass.test import World

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def emailing_rule(world: World, projects: list[Project], team: Team) -> MetricRule:
    rule = MetricRule.objects.create(
        organization=world.org,
        name="Error count",
        aggregate="count()",
        time_window=5,
        triggers=[
            {
                "label": "critical",
                "alertThreshold": 10,
                "actions": [
                    {"type": "email", "targetType": "team", "targetIdentifier": str(team.pk)},
                    {"type": "email", "targetType": "user", "targetIdentifier": str(world.bob.pk)},
                ],
            }
        ],
    )
    rule.projects.add(*projects)
    return rule


def fire(rule: MetricRule) -> set[str]:
    """Open a critical incident of the rule and notify: the emails it enqueued."""
    Delivery.objects.all().delete()
    incident = Incident.objects.create(
        rule=rule,
        organization=rule.organization,
        identifier=Incident.objects.count() + 1,
        title=rule.name,
        status=IncidentStatus.CRITICAL,
        started_at=T0,
        closed_at=T0,
    )
    metric_alerts._notify(rule, incident, IncidentStatus.CRITICAL, {"count()": 42.0})
    return set(Delivery.objects.filter(user__isnull=False).values_list("user__email", flat=True))


def switch_off(world: World, *projects: Project) -> None:
    for project in projects:
        ProjectAlertEmail.objects.update_or_create(
            user=world.alice, project=project, defaults={"enabled": False}
        )


@pytest.fixture
def team(world: World) -> Team:
    team = Team.objects.create(organization=world.org, slug="oncall", name="On call")
    for member in world.org.members.filter(user__in=[world.alice, world.bob]):
        member.teams.add(team)
    return team


def test_a_rule_of_two_projects_emails_whoever_has_one_of_them_on(world: World, team: Team) -> None:
    rule = emailing_rule(world, [world.project, world.other_project], team)
    assert fire(rule) == {"alice@example.com", "bob@example.com"}
    switch_off(world, world.project)
    assert fire(rule) == {"alice@example.com", "bob@example.com"}
    switch_off(world, world.other_project)
    assert fire(rule) == {"bob@example.com"}  # both off: alice gets nothing, bob still does


def test_a_rule_of_one_project_respects_that_projects_switch(world: World, team: Team) -> None:
    rule = emailing_rule(world, [world.project], team)
    switch_off(world, world.other_project)  # another project's switch changes nothing
    assert fire(rule) == {"alice@example.com", "bob@example.com"}
    switch_off(world, world.project)
    assert fire(rule) == {"bob@example.com"}
    ProjectAlertEmail.objects.filter(user=world.alice).update(enabled=True)
    assert fire(rule) == {"alice@example.com", "bob@example.com"}


def test_fires_and_metric_values_older_than_90_days_are_pruned_in_chunks(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prune, "CHUNK", 3)
    issue = Issue.objects.create(project=world.project, number=1, first_seen=T0, last_seen=T0)
    rules = [Rule.objects.create(project=world.project, name=f"r{n}") for n in range(2)]
    metric = MetricRule.objects.create(organization=world.org, name="m")
    cutoff = T0 - timedelta(days=90)
    for rule in rules:
        for n in range(8):  # 7 past the cutoff (more than two chunks), 1 just inside
            at = cutoff - timedelta(hours=n) if n else cutoff + timedelta(minutes=1)
            RuleFire.objects.create(rule=rule, issue=issue, fired_at=at)
    for n in range(8):
        at = cutoff - timedelta(minutes=n) if n else cutoff + timedelta(minutes=1)
        MetricValue.objects.create(rule=metric, at=at, value=n)
    assert prune.prune_history(T0) == (14, 7)
    assert RuleFire.objects.count() == 2
    assert all(fire.fired_at > cutoff for fire in RuleFire.objects.all())
    assert list(MetricValue.objects.values_list("value", flat=True)) == [0.0]
    assert prune.prune_history(T0) == (0, 0)


def test_the_scheduler_prunes_alert_history_hourly(world: World) -> None:
    job = next(job for job in JOBS if job.name == "prune-alert-history")
    assert job.every == 3600
    metric = MetricRule.objects.create(organization=world.org, name="m")
    MetricValue.objects.create(rule=metric, at=datetime.now(UTC) - timedelta(days=91), value=1)
    MetricValue.objects.create(rule=metric, at=datetime.now(UTC) - timedelta(days=89), value=2)
    job.run()
    assert list(MetricValue.objects.values_list("value", flat=True)) == [2.0]
