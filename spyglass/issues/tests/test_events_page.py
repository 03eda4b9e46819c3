"""The events list of an issue: access, content, filters, search errors, pages, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.test import Client

from spyglass.events.bodies import compress
from spyglass.events.models import Event, IssueTagValue
from spyglass.issues.models import Issue
from spyglass.projects.models import Organization, Project
from spyglass.test import World, make_project

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
PAGE = "/acme/backend/issues/1/events/"
XSS = "<script>window.__xss=1</script>"


def make_issue(project: Project, number: int = 1) -> Issue:
    return Issue.objects.create(
        project=project,
        number=number,
        title="ValueError: bad input",
        first_seen=NOW - timedelta(days=3),
        last_seen=NOW,
    )


def make_event(issue: Issue, n: int, at: datetime, **fields: object) -> Event:
    values: dict[str, object] = {
        "title": issue.title,
        "environment": "production",
        "release": "api@1.0.0",
        "level": "error",
        "user_key": "email:u@example.com",
    }
    values.update(fields)
    return Event.objects.create(
        project=issue.project,
        issue=issue,
        event_id=f"{n:032x}",
        timestamp=at,
        received_at=at,
        body=compress(issue.project_id, orjson.dumps({"event_id": f"{n:032x}"})),
        **values,
    )


def tag(issue: Issue, key: str, value: str) -> None:
    IssueTagValue.objects.create(issue=issue, key=key, value=value, first_seen=NOW, last_seen=NOW)


def html(client: Client, path: str = PAGE) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def shown(page: str) -> list[str]:
    """The full event ids of the rows, in order."""
    return re.findall(r'title="([0-9a-f]{32})"', page)


# -- access ---------------------------------------------------------------------------------
def test_outsiders_get_404_and_members_see_the_list(client: Client, world: World) -> None:
    umbrella = Organization.get_or_create_named("Umbrella")
    make_event(make_issue(make_project(umbrella, "Secret")), 1, NOW)
    make_event(make_issue(world.project), 2, NOW)
    for path in (PAGE, "/umbrella/secret/issues/1/events/"):
        assert client.get(path)["Location"].startswith("/accounts/sign-in/")
        client.force_login(world.charlie)
        assert client.get(path).status_code == 404
        client.force_login(world.bob)
        assert client.get(path).status_code == (404 if "umbrella" in path else 200)
        client.logout()


def test_guessed_numbers_and_issues_of_other_projects_are_404(client: Client, world: World) -> None:
    make_issue(world.other_project, 7)
    client.force_login(world.bob)
    assert client.get("/acme/backend/issues/7/events/").status_code == 404
    assert client.get("/acme/frontend/issues/7/events/").status_code == 200
    assert client.get("/acme/backend/issues/99999999999999999999/events/").status_code == 404


# -- content --------------------------------------------------------------------------------
def test_it_lists_the_issues_events_newest_first_with_their_columns(
    client: Client, world: World
) -> None:
    issue = make_issue(world.project)
    other = make_issue(world.project, 2)
    make_event(issue, 1, NOW - timedelta(hours=2))
    make_event(issue, 2, NOW, environment="staging", release="api@2.0.0", level="warning")
    make_event(other, 3, NOW)
    client.force_login(world.bob)
    page = html(client)
    assert shown(page) == [f"{2:032x}", f"{1:032x}"]
    assert f'href="/acme/backend/issues/1/?event={2:032x}#event"' in page
    for text in ("staging", "api@2.0.0", "warning", "u@example.com", "<time"):
        assert text in page
    assert 'href="/acme/backend/issues/1/events/"' in html(client, "/acme/backend/issues/1/")


def test_hostile_titles_messages_and_values_are_escaped(client: Client, world: World) -> None:
    issue = make_issue(world.project)
    make_event(issue, 1, NOW, title=XSS, message=XSS + "!", environment=XSS, user_key="id:" + XSS)
    tag(issue, "environment", XSS)
    tag(issue, "release", XSS)
    client.force_login(world.bob)
    page = html(client, PAGE + "?query=" + "%3Cscript%3E")
    assert "<script>window" not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert shown(page) == [f"{1:032x}"]


# -- filters --------------------------------------------------------------------------------
def test_it_filters_by_environment_release_and_the_event_query(
    client: Client, world: World
) -> None:
    issue = make_issue(world.project)
    make_event(issue, 1, NOW, environment="production", release="a@1")
    make_event(issue, 2, NOW, environment="staging", release="a@1", message="disk full")
    make_event(issue, 3, NOW, environment="staging", release="a@2", level="warning")
    for key, value in (("environment", "production"), ("environment", "staging")):
        tag(issue, key, value)
    tag(issue, "release", "a@1")
    client.force_login(world.bob)
    page = html(client)
    assert '<option value="staging">staging</option>' in page
    assert '<option value="a@1">a@1</option>' in page
    assert set(shown(html(client, PAGE + "?environment=staging"))) == {f"{2:032x}", f"{3:032x}"}
    staging_1 = html(client, PAGE + "?environment=staging&release=a@1")
    assert shown(staging_1) == [f"{2:032x}"]
    assert '<option value="staging" selected>' in staging_1
    assert shown(html(client, PAGE + "?query=disk")) == [f"{2:032x}"]
    assert shown(html(client, PAGE + "?query=level:warning")) == [f"{3:032x}"]
    assert shown(html(client, PAGE + "?query=!environment:staging")) == [f"{1:032x}"]
    assert "No events match" in html(client, PAGE + "?release=nope")


def test_a_bad_query_shows_its_message_and_position(client: Client, world: World) -> None:
    make_event(make_issue(world.project), 1, NOW)
    client.force_login(world.bob)
    page = html(client, PAGE + "?query=disk+has:release.stage")
    assert 'class="search-error"' in page
    assert "<mark>has:release.stage</mark>" in page
    assert shown(page) == []
    assert 'class="search-error"' in html(client, PAGE + '?query="unclosed')


# -- pages ----------------------------------------------------------------------------------
def test_pages_follow_timestamp_then_id_and_keep_the_filters(client: Client, world: World) -> None:
    issue = make_issue(world.project)
    # 120 events, several sharing a timestamp so the id breaks ties across a page boundary.
    for n in range(1, 121):
        make_event(issue, n, NOW - timedelta(minutes=n // 3))
    make_event(issue, 500, NOW, environment="staging")
    expected = [
        e.event_id
        for e in Event.objects.filter(issue=issue, environment="production").order_by(
            "-timestamp", "-id"
        )
    ]
    client.force_login(world.bob)
    seen: list[str] = []
    path = PAGE + "?environment=production"
    pages = 0
    while path:
        page = html(client, path)
        rows = shown(page)
        assert len(rows) <= 50
        seen += rows
        pages += 1
        found = re.search(r'rel="next" href="([^"]+)"', page)
        path = found.group(1).replace("&amp;", "&") if found else ""
        if found:
            assert "environment=production" in path
    assert pages == 3
    assert seen == expected
    assert 'class="empty"' in html(client, PAGE + "?cursor=0.0")
    assert len(shown(html(client, PAGE + "?cursor=garbage"))) == 50
