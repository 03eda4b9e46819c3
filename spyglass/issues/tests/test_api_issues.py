"""The issue endpoints of /api/0/: Sentry's list and detail shapes, search, sorts, cursor
pagination in Link headers, X-Hits, stats, and 404s for anything the token's user may not
see."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.api.tests.factory import NOW, H, add_counts, auth, make_issue, token_for
from spyglass.issues.models import Issue, Status
from spyglass.projects.models import Member, Organization, Role
from spyglass.test import World, make_project, make_user

pytestmark = pytest.mark.django_db

LIST = "/api/0/projects/acme/backend/issues/"


def get(world: World, url: str, **params: str | list[str]) -> tuple[int, object, dict[str, str]]:
    response = Client().get(url, params, headers=auth(token_for(world.bob)))
    return response.status_code, response.json(), dict(response.headers)


def ids(body: object) -> list[int]:
    assert isinstance(body, list)
    return [int(item["id"]) for item in body]


@pytest.fixture
def issues(world: World) -> dict[str, Issue]:
    return {
        "db": make_issue(world.project, "DatabaseError: reset", times_seen=50),
        "zero": make_issue(
            world.project, "ZeroDivisionError: zero", last_seen=NOW - 2 * H, times_seen=9
        ),
        "done": make_issue(
            world.project, "KeyError: gone", status=Status.RESOLVED, last_seen=NOW - 3 * H
        ),
        "stage": make_issue(
            world.project, "TypeError: none", environment="staging", last_seen=NOW - 4 * H
        ),
        "front": make_issue(world.other_project, "TypeError: undefined", last_seen=NOW - 5 * H),
    }


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_the_list_has_sentrys_shape(world: World, issues: dict[str, Issue]) -> None:
    status, body, headers = get(world, LIST)
    assert status == 200
    assert isinstance(body, list)
    first = body[0]
    db = issues["db"]
    assert first == {
        **first,
        "id": str(db.pk),
        "shortId": db.short_id,
        "title": "DatabaseError: reset",
        "culprit": "app.views in index",
        "level": "error",
        "status": "unresolved",
        "substatus": "new",
        "priority": "high",
        "platform": "python",
        "project": {
            "id": str(world.project.pk),
            "name": "Backend",
            "slug": "backend",
            "platform": "python",
        },
        "type": "error",
        "metadata": {"type": "DatabaseError", "value": "DatabaseError: reset"},
        "numComments": 0,
        "assignedTo": None,
        "isBookmarked": False,
        "hasSeen": False,
        "count": "50",
        "userCount": 1,
        "firstSeen": iso(db.first_seen),
        "lastSeen": iso(db.last_seen),
    }
    assert first["permalink"].endswith(f"/acme/backend/issues/{db.number}/")
    assert set(first["stats"]) == {"24h"}
    assert headers["X-Hits"] == "3"


def test_the_default_query_is_unresolved_and_an_empty_one_is_everything(
    world: World, issues: dict[str, Issue]
) -> None:
    unresolved = [issues[k].pk for k in ("db", "zero", "stage")]
    assert ids(get(world, LIST)[1]) == unresolved
    everything = [issues[k].pk for k in ("db", "zero", "done", "stage")]
    assert ids(get(world, LIST, query="")[1]) == everything
    assert ids(get(world, LIST, query="is:resolved")[1]) == [issues["done"].pk]
    assert ids(get(world, LIST, query="TypeError")[1]) == [issues["stage"].pk]


def test_sort_and_environment(world: World, issues: dict[str, Issue]) -> None:
    assert ids(get(world, LIST, sort="freq")[1])[:2] == [issues["db"].pk, issues["zero"].pk]
    assert ids(get(world, LIST, environment="staging")[1]) == [issues["stage"].pk]
    status, body, _ = get(world, LIST, sort="loudest")
    assert status == 400
    assert "unknown sort" in str(body)


def test_a_bad_query_is_a_400_naming_the_position(world: World, issues: dict[str, Issue]) -> None:
    status, body, _ = get(world, LIST, query="is:unresolved (level:error")
    assert status == 400
    assert isinstance(body, dict)
    assert re.search(r"position \d+", body["detail"]), body
    status, body, _ = get(world, LIST, query="timesSeen:>abc")
    assert status == 400
    assert "timesSeen" in str(body)


def test_stats_per_hour_and_per_day(world: World, issues: dict[str, Issue]) -> None:
    from django.utils import timezone

    now = timezone.now()
    add_counts(issues["db"], 0, 5, now)
    add_counts(issues["db"], 2, 7, now)
    add_counts(issues["db"], 30, 100, now)  # outside 24 hours
    _, body, _ = get(world, LIST, statsPeriod="24h")
    assert isinstance(body, list)
    points = body[0]["stats"]["24h"]
    assert len(points) == 24
    assert all(b - a == 3600 for (a, _), (b, _) in itertools.pairwise(points))
    assert [n for _, n in points][-3:] == [7, 0, 5]
    _, body, _ = get(world, LIST, statsPeriod="14d")
    assert isinstance(body, list)
    days = body[0]["stats"]["14d"]
    assert len(days) == 14 and sum(n for _, n in days) == 112
    _, body, _ = get(world, LIST, statsPeriod="")
    assert isinstance(body, list)
    assert "stats" not in body[0]
    status, _, _ = get(world, LIST, statsPeriod="3y")
    assert status == 400


def test_cursor_pagination_with_link_headers(world: World) -> None:
    made = [
        make_issue(world.project, f"Error{n}: x", last_seen=NOW - n * timedelta(minutes=5))
        for n in range(7)
    ]
    seen: list[int] = []
    url, params = LIST, {"limit": "3"}
    pages = 0
    while True:
        status, body, headers = get(world, url, **params)
        assert status == 200
        assert headers["X-Hits"] == "7"
        seen += ids(body)
        pages += 1
        links = re.findall(
            r'<([^>]+)>; rel="(previous|next)"; results="(true|false)"; cursor="([^"]+)"',
            headers["Link"],
        )
        assert [rel for _, rel, _, _ in links] == ["previous", "next"]
        assert (links[0][2] == "true") == (pages > 1)
        _, _, more, cursor = links[1]
        assert f"cursor={cursor.replace(':', '%3A')}" in links[1][0]
        if more == "false":
            break
        params = {"limit": "3", "cursor": cursor}
    assert pages == 3
    assert seen == [issue.pk for issue in made]


@pytest.mark.parametrize("cursor", ["x", "1:2", "0:-1:0", "0:0:7", "0:99999999999:0", "٣:0:0"])
def test_a_bad_cursor_is_a_400(world: World, cursor: str) -> None:
    status, body, _ = get(world, LIST, cursor=cursor)
    assert status == 400
    assert body == {"detail": "Invalid cursor parameter."}


def test_other_organizations_are_404s(world: World, issues: dict[str, Issue]) -> None:
    other = Organization.get_or_create_named("Globex")
    secret = make_project(other, "Secret")
    hidden = make_issue(secret, "SecretError: x")
    # bob is not a member of Globex: its slugs, its project and its issue look absent.
    for url in (
        "/api/0/projects/globex/secret/issues/",
        "/api/0/projects/acme/secret/issues/",
        "/api/0/organizations/globex/issues/",
        f"/api/0/issues/{hidden.pk}/",
        f"/api/0/issues/{hidden.pk}/events/",
        f"/api/0/issues/{hidden.pk}/events/latest/",
        "/api/0/issues/999999/",
        "/api/0/issues/abc/",
    ):
        status, body, _ = get(world, url)
        assert status == 404, url
        assert body == {"detail": "The requested resource does not exist"}
    status, _, _ = get(world, "/api/0/organizations/acme/issues/", project=[str(secret.pk)])
    assert status == 404
    # A member of Globex sees it.
    carol = make_user("carol@example.com")
    Member.objects.create(organization=other, user=carol, role=Role.MEMBER)
    response = Client().get("/api/0/projects/globex/secret/issues/", headers=auth(token_for(carol)))
    assert ids(response.json()) == [hidden.pk]


def test_the_organization_list(world: World, issues: dict[str, Issue]) -> None:
    url = "/api/0/organizations/acme/issues/"
    everything = [issues[k].pk for k in ("db", "zero", "stage", "front")]
    assert ids(get(world, url)[1]) == everything
    assert ids(get(world, url, project="-1")[1]) == everything
    assert ids(get(world, url, project=[str(world.other_project.pk)])[1]) == [issues["front"].pk]
    both = [str(world.project.pk), str(world.other_project.pk)]
    assert ids(get(world, url, project=both, query="TypeError")[1]) == [
        issues["stage"].pk,
        issues["front"].pk,
    ]
    assert ids(get(world, url, statsPeriod="150m")[1]) == [issues["db"].pk, issues["zero"].pk]
    assert get(world, url, project="abc")[0] == 400
    assert get(world, url, statsPeriod="forever")[0] == 400


def test_the_detail(world: World, issues: dict[str, Issue]) -> None:
    status, body, _ = get(world, f"/api/0/issues/{issues['db'].pk}/")
    assert status == 200
    assert isinstance(body, dict)
    assert body["shortId"] == issues["db"].short_id
    assert body["firstRelease"]["version"] == "api@1.0.0"
    assert body["lastRelease"]["version"] == "api@1.1.0"
    assert len(body["stats"]["24h"]) == 24


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=st.text(
        alphabet=st.sampled_from(list("is:un!*%_\\\"'()[],<>=-0h aORAND\u00e9\x00")), max_size=40
    )
)
def test_hostile_queries_never_500(world: World, query: str) -> None:
    response = Client().get(
        LIST, {"query": query, "sort": "priority"}, headers=auth(token_for(world.alice))
    )
    assert response.status_code in (200, 400), (query, response.content)
    body = response.json()
    if response.status_code == 400:
        assert set(body) == {"detail"}


HOSTILE = ["\x00", "a\x00b", "\ud800", "%", "_", "\\", "'", '"', "x" * 5000, "../..", "é"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_parameters_are_400s_or_404s_never_500s(world: World, value: str) -> None:
    token = token_for(world.bob)
    events = f"/api/0/issues/{make_issue(world.project, 'ValueError: x').pk}/events/"
    quoted = value.encode("utf-8", "surrogatepass").decode("latin-1")
    urls = [
        (f"/api/0/projects/{quoted}/backend/issues/", {}),
        (f"/api/0/projects/acme/{quoted}/issues/", {}),
        (f"/api/0/organizations/{quoted}/issues/", {}),
        (f"/api/0/issues/{quoted}/", {}),
        (f"/api/0/issues/{quoted}/events/latest/", {}),
        (LIST, {"environment": value}),
        (events, {"query": value}),
        (events, {"query": f"environment:{value}"}),
        (events, {"cursor": value}),
        (LIST, {"query": value}),
        (LIST, {"sort": value}),
        (LIST, {"cursor": value}),
        (LIST, {"limit": value}),
        (LIST, {"statsPeriod": value}),
        ("/api/0/organizations/acme/issues/", {"project": value}),
        ("/api/0/organizations/acme/issues/", {"statsPeriod": value}),
    ]
    for url, params in urls:
        try:
            response = Client().get(url, params, headers=auth(token))
        except UnicodeEncodeError:
            continue  # the test client cannot even send it
        assert response.status_code in (200, 400, 404), (url, params, response.content[:300])


@pytest.mark.parametrize("project", ["99999999999999999999999", "-99999999999999999999"])
def test_huge_project_ids_are_404s_or_400s(world: World, project: str) -> None:
    status, _, _ = get(world, "/api/0/organizations/acme/issues/", project=project)
    assert status in (400, 404)
