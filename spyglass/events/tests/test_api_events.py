"""The event endpoints of /api/0/: an issue's events list (Sentry's short shape, query,
pagination) and its latest and oldest event in full."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.api.tests.factory import NOW, H, add_event, auth, make_issue, token_for
from spyglass.issues.models import Issue
from spyglass.test import World

pytestmark = pytest.mark.django_db


def get(world: World, url: str, **params: str) -> tuple[int, Any, dict[str, str]]:
    response = Client().get(url, params, headers=auth(token_for(world.bob)))
    return response.status_code, response.json(), dict(response.headers)


def test_the_events_list_has_sentrys_shape_newest_first(world: World) -> None:
    issue = make_issue(world.project, "ValueError: bad", events=3)
    status, body, headers = get(world, f"/api/0/issues/{issue.pk}/events/")
    assert status == 200
    assert isinstance(body, list) and len(body) == 3
    first = body[0]
    assert first["id"] == first["eventID"] == f"{issue.pk:016x}{0:016x}"
    assert first["groupID"] == str(issue.pk)
    assert first["title"] == first["message"] == "ValueError: bad"
    assert first["dateCreated"] == (NOW - H).isoformat().replace("+00:00", "Z")
    assert first["platform"] == "python"
    assert first["tags"] == [
        {"key": "environment", "value": "production"},
        {"key": "server_name", "value": "web-1"},
    ]
    assert first["user"]["id"] == "42"
    assert [e["dateCreated"] for e in body] == sorted(
        (e["dateCreated"] for e in body), reverse=True
    )
    assert headers["X-Hits"] == "3"
    assert 'rel="next"; results="false"' in headers["Link"]


def test_the_events_list_searches_and_pages(world: World) -> None:
    issue = make_issue(world.project, "ValueError: bad", events=2)
    add_event(issue, "f" * 32, NOW - 3 * H, environment="staging", message="it broke in staging")
    url = f"/api/0/issues/{issue.pk}/events/"
    _, body, _ = get(world, url, query="environment:staging")
    assert [e["id"] for e in body] == ["f" * 32]
    _, body, _ = get(world, url, query="broke")
    assert [e["id"] for e in body] == ["f" * 32]
    _, body, _ = get(world, url, query="!environment:staging")
    assert len(body) == 2
    _, body, headers = get(world, url, limit="2")
    assert len(body) == 2
    following = re.search(
        r'rel="next"; results="true"; cursor="([0-9]+:[0-9]+:0)"', headers["Link"]
    )
    assert following is not None  # a keyset cursor: the last row's time and id
    _, body, headers = get(world, url, limit="2", cursor=following.group(1))
    assert [e["id"] for e in body] == ["f" * 32]
    assert 'rel="next"; results="false"' in headers["Link"]
    assert 'rel="previous"; results="true"' in headers["Link"]
    _, body, _ = get(world, url, limit="2", cursor="0:2:0")  # offset cursors still work
    assert [e["id"] for e in body] == ["f" * 32]
    status, body, _ = get(world, url, query="(environment:x")
    assert status == 400
    status, body, _ = get(world, url, query="has:release.stage")
    assert status == 400
    assert "position" in body["detail"]


def test_the_latest_and_oldest_event_in_full(world: World) -> None:
    issue = make_issue(world.project, "ValueError: bad", events=2)
    status, body, _ = get(world, f"/api/0/issues/{issue.pk}/events/latest/")
    assert status == 200
    assert isinstance(body, dict)
    assert body["eventID"] == f"{issue.pk:016x}{0:016x}"
    assert body["groupID"] == str(issue.pk)
    assert body["projectID"] == str(world.project.pk)
    assert body["contexts"]["runtime"]["name"] == "CPython"
    assert body["sdk"]["name"] == "sentry.python"
    assert [entry["type"] for entry in body["entries"]] == ["exception", "breadcrumbs"]
    assert body["entries"][0]["data"]["values"][0]["type"] == "ValueError"
    assert body["tags"][0] == {"key": "environment", "value": "production"}
    _, body, _ = get(world, f"/api/0/issues/{issue.pk}/events/oldest/")
    assert body["eventID"] == f"{issue.pk:016x}{1:016x}"


def test_an_issue_without_events_has_no_latest(world: World) -> None:
    issue = make_issue(world.project, "ValueError: bad", events=0)
    status, body, _ = get(world, f"/api/0/issues/{issue.pk}/events/latest/")
    assert status == 404
    assert body == {"detail": "The requested resource does not exist"}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.text(
        alphabet=st.sampled_from(list("environment:level!*%_\\\"'()[],<>=-0h aORAND\u00e9\x00")),
        max_size=40,
    )
)
def test_hostile_event_queries_never_500(world: World, query: str) -> None:
    issue = Issue.objects.filter(project=world.project).first() or make_issue(
        world.project, "ValueError: bad"
    )
    response = Client().get(
        f"/api/0/issues/{issue.pk}/events/", {"query": query}, headers=auth(token_for(world.bob))
    )
    assert response.status_code in (200, 400), (query, response.content)
    if response.status_code == 400:
        assert set(response.json()) == {"detail"}
