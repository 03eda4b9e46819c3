"""`/` and an organization's home: only members see it, with each project's last 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from spyglass.events.models import IssueCount
from spyglass.issues.models import Issue
from spyglass.projects.models import Member, Organization, Project, Role
from spyglass.test import World, make_project

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
HOUR = 3600


def issue_with_counts(project: Project, number: int, hourly: dict[int, int]) -> Issue:
    """An issue with `count` events `hours_ago` hours before NOW (hourly and minute buckets)."""
    issue = Issue.objects.create(
        project=project, number=number, title="E", first_seen=NOW, last_seen=NOW
    )
    now = int(NOW.timestamp())
    for hours_ago, count in hourly.items():
        bucket = now - now % HOUR - hours_ago * HOUR
        IssueCount.objects.create(issue=issue, resolution=HOUR, bucket=bucket, count=count)
        IssueCount.objects.create(issue=issue, resolution=60, bucket=bucket, count=count)
    return issue


@time_machine.travel(NOW, tick=False)
def test_the_home_shows_each_project_with_its_events_of_the_last_24_hours(
    client: Client, world: World
) -> None:
    issue_with_counts(world.project, 1, {0: 3, 5: 4, 23: 1, 24: 100})  # 24 h ago: not counted
    issue_with_counts(world.project, 2, {1: 2})
    issue_with_counts(world.other_project, 1, {2: 7})
    client.force_login(world.bob)
    response = client.get("/acme/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-label="10 events in 24 hours"' in html  # Backend: 3 + 4 + 1 + 2
    assert 'aria-label="7 events in 24 hours"' in html  # Frontend
    assert html.index("Backend") < html.index("Frontend")
    assert response.context["rows"][0]["series"][-1] == 3  # this hour is the last bar
    assert response.context["rows"][0]["series"][0] == 1  # 23 hours ago the first


def test_the_home_costs_the_same_queries_for_one_project_or_twenty(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    issue_with_counts(world.project, 1, {0: 1})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/acme/").status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for n in range(20):
        issue_with_counts(make_project(world.org, f"Service {n}"), 1, {1: 1})
    assert queries() == few


def test_one_organization_sends_root_to_it_several_list_them(client: Client, world: World) -> None:
    client.force_login(world.bob)
    assert client.get("/")["Location"] == "/acme/"
    umbrella = Organization.get_or_create_named("Umbrella")
    Member.objects.create(organization=umbrella, user=world.bob, role=Role.MEMBER)
    html = client.get("/").content.decode()
    assert 'href="/acme/"' in html and 'href="/umbrella/"' in html


def test_someone_in_no_organization_is_told_so(client: Client, world: World) -> None:
    client.force_login(world.charlie)
    response = client.get("/")
    assert response.status_code == 200
    assert b"not a member of any organization" in response.content


@pytest.mark.parametrize("path", ["/acme/", "/umbrella/", "/no-such-org/"])
def test_an_outsider_gets_404_for_organizations_whether_they_exist_or_not(
    client: Client, world: World, path: str
) -> None:
    Organization.get_or_create_named("Umbrella")  # exists, alice and bob aren't in it
    client.force_login(world.charlie)
    assert client.get(path).status_code == 404
    client.force_login(world.alice)  # an owner (and superuser) of Acme only
    assert client.get(path).status_code == (200 if path == "/acme/" else 404)


def test_the_switcher_lists_only_the_users_organizations(client: Client, world: World) -> None:
    Organization.get_or_create_named("Umbrella")
    client.force_login(world.bob)
    html = client.get("/acme/").content.decode()
    assert "Umbrella" not in html


def test_hostile_names_are_escaped(client: Client, world: World) -> None:
    world.org.name = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    world.org.save()
    world.project.name = "<b>bold</b>"
    world.project.save()
    client.force_login(world.bob)
    html = client.get("/acme/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img" in html


@time_machine.travel(NOW, tick=False)
def test_an_hour_boundary_moves_the_bars(client: Client, world: World) -> None:
    issue_with_counts(world.project, 1, {0: 3})
    client.force_login(world.bob)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        series = client.get("/acme/").context["rows"][0]["series"]
    assert series[-2:] == [3, 0]


def test_the_home_lists_the_latest_unresolved_issues_across_the_organizations_projects(
    client: Client, world: World
) -> None:
    def issue(project: Project, number: int, minutes_ago: int, **fields: object) -> Issue:
        seen = NOW - timedelta(minutes=minutes_ago)
        values: dict[str, object] = {"title": f"E{number}", "first_seen": seen, "last_seen": seen}
        return Issue.objects.create(project=project, number=number, **{**values, **fields})

    for n in range(1, 13):
        issue(world.project, n, minutes_ago=n * 10)
    issue(world.other_project, 1, minutes_ago=15, title="<script>window.__xss=1</script>")
    issue(world.other_project, 2, minutes_ago=1, status=1)  # resolved: not listed
    elsewhere = make_project(Organization.get_or_create_named("Umbrella"), "Secret")
    issue(elsewhere, 1, minutes_ago=0, title="secret")
    client.force_login(world.bob)
    response = client.get("/acme/")
    latest = [(i.project.slug, i.number) for i in response.context["latest"]]
    assert latest == [("backend", 1), ("frontend", 1)] + [("backend", n) for n in range(2, 10)]
    html = response.content.decode()
    assert "secret" not in html and "<script>window" not in html
    assert 'href="/acme/frontend/issues/1/">&lt;script&gt;' in html


def test_the_home_links_the_organizations_issues_incidents_and_settings(
    client: Client, world: World
) -> None:
    from spyglass.alerts.models import Incident, MetricRule

    Issue.objects.create(project=world.project, number=1, title="E", first_seen=NOW, last_seen=NOW)
    client.force_login(world.bob)
    html = client.get("/acme/").content.decode()
    nav = html.split('class="org-links"')[1].split("</nav>")[0]
    assert 'href="/acme/issues/">Issues of all projects</a>' in nav
    assert 'href="/acme/alerts/incidents/">Incidents</a>' in nav
    assert 'href="/acme/settings/">Organization settings</a>' in nav
    latest = html.split('class="latest-head"')[1].split("</h2>")[0]
    assert 'href="/acme/issues/"' in latest and "All issues of every project" in latest
    rule = MetricRule.objects.create(organization=world.org, name="Errors")
    Incident.objects.create(
        rule=rule, organization=world.org, identifier=1, title="Errors", started_at=NOW
    )
    html = client.get("/acme/").content.decode()
    assert "1 open</span></a>" in html
