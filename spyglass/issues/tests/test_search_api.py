"""Keyset cursors in /api/0/: the issue lists sorted by date or new, and an issue's events,
page by the last row's time and id (ties included), forward and back, in Sentry's Link
format; the other sorts keep offset cursors; old offset cursors still work."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from spyglass.api.tests.factory import NOW, H, add_event, auth, make_issue, token_for
from spyglass.issues.models import Issue
from spyglass.test import World

pytestmark = pytest.mark.django_db
LINK = re.compile(r'<[^>]*>; rel="(previous|next)"; results="(true|false)"; cursor="([^"]*)"')


def fetch(world: World, url: str, **params: str) -> tuple[list[str], dict[str, tuple[bool, str]]]:
    response = Client().get(url, params, headers=auth(token_for(world.bob)))
    assert response.status_code == 200, response.content
    links = {rel: (flag == "true", cursor) for rel, flag, cursor in LINK.findall(response["Link"])}
    return [str(item["id"]) for item in response.json()], links


def walk(world: World, url: str, **params: str) -> tuple[list[str], list[list[str]]]:
    """Every page forward from the first, then back from the last: (rows, pages back)."""
    rows, pages, cursor = [], [], ""
    while True:
        page, links = fetch(world, url, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(page)
        rows += page
        more, cursor = links["next"]
        if not more:
            break
        assert len(pages) < 50
    back = [pages[-1]]
    more, cursor = links["previous"]
    while more:
        page, links = fetch(world, url, **params, cursor=cursor)
        back.append(page)
        more, cursor = links["previous"]
    return rows, back[::-1]


@pytest.fixture
def many(world: World) -> list[Issue]:
    issues = []
    for n in range(11):
        # ties: issues 0-3 share a last seen, 4-6 another
        last = NOW - (H if n < 4 else 2 * H if n < 7 else (n + 3) * H)
        issues.append(make_issue(world.project, f"Error {n}", last_seen=last, times_seen=n))
    return issues


@pytest.mark.parametrize("sort", ["date", "new"])
def test_issue_pages_by_keyset_cover_every_issue_once_forward_and_back(
    world: World, many: list[Issue], sort: str
) -> None:
    url = "/api/0/projects/acme/backend/issues/"
    field = "last_seen" if sort == "date" else "first_seen"
    expected = [
        str(pk)
        for pk in Issue.objects.filter(project=world.project)
        .order_by(f"-{field}", "-id")
        .values_list("id", flat=True)
    ]
    rows, back = walk(world, url, query="", sort=sort, limit="3", statsPeriod="")
    assert rows == expected
    assert [row for page in back for row in page] == expected
    first, links = fetch(world, url, query="", sort=sort, limit="3", statsPeriod="")
    assert links["previous"][0] is False
    value, offset, is_prev = links["next"][1].split(":")
    assert int(value) > 0 and int(offset) == int(first[-1]) and is_prev == "0"


def test_other_sorts_keep_offset_cursors(world: World, many: list[Issue]) -> None:
    url = "/api/0/projects/acme/backend/issues/"
    _page, links = fetch(world, url, query="", sort="freq", limit="4", statsPeriod="")
    assert links["next"] == (True, "0:4:0")
    rows, _ = walk(world, url, query="", sort="freq", limit="4", statsPeriod="")
    assert len(rows) == len(set(rows)) == 11


def test_an_old_offset_cursor_still_works_on_a_keyset_list(world: World, many: list[Issue]) -> None:
    url = "/api/0/projects/acme/backend/issues/"
    everything, _ = fetch(world, url, query="", limit="100", statsPeriod="")
    page, links = fetch(world, url, query="", limit="3", cursor="0:3:0", statsPeriod="")
    assert page == everything[3:6]
    assert links["previous"][0] is True


def test_event_pages_by_keyset(world: World) -> None:
    issue = make_issue(world.project, "ValueError: bad", events=0)
    for n in range(7):
        add_event(issue, f"{n:032x}", NOW - (H if n < 3 else n * H))
    url = f"/api/0/issues/{issue.pk}/events/"
    rows, back = walk(world, url, limit="2")
    assert len(rows) == len(set(rows)) == 7
    assert [row for page in back for row in page] == rows


@pytest.mark.parametrize(
    "cursor", ["1:x:0", "99999999999999999999:1:0", "1:1:2", "9223372036854775807:1:0", "-1:1:0"]
)
def test_bad_keyset_cursors_are_400s(world: World, many: list[Issue], cursor: str) -> None:
    response = Client().get(
        "/api/0/projects/acme/backend/issues/",
        {"cursor": cursor, "query": ""},
        headers=auth(token_for(world.bob)),
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid cursor parameter."}


def test_a_keyset_cursor_past_the_end_is_an_empty_page(world: World, many: list[Issue]) -> None:
    rows, links = fetch(world, "/api/0/projects/acme/backend/issues/", query="", cursor="1:1:0")
    assert rows == []
    assert links["next"][0] is False


# --- the serializer's triage fields and issue types ------------------------------------------


def _listed(world: World, user_token: str) -> dict[str, dict[str, object]]:
    response = Client().get(
        "/api/0/projects/acme/backend/issues/",
        {"query": "", "statsPeriod": ""},
        headers=auth(user_token),
    )
    assert response.status_code == 200, response.content
    return {item["id"]: item for item in response.json()}


def test_lists_and_detail_show_the_users_real_triage_fields(world: World) -> None:
    from spyglass.issues import actions

    first, second = make_issue(world.project, "KeyError: a"), make_issue(world.project, "E: b")
    actions.assign(first, actions.Assignee(user=world.alice), world.alice)
    actions.bookmark(first, world.bob)
    actions.mark_seen(first, world.bob)
    actions.comment(first, world.alice, "looking")
    actions.comment(first, world.bob, "me too")
    actions.subscribe(second, world.bob, on=False)
    bob = _listed(world, token_for(world.bob))
    one, two = bob[str(first.pk)], bob[str(second.pk)]
    assert one["assignedTo"] == {
        "type": "user",
        "id": str(world.alice.pk),
        "name": world.alice.name or world.alice.email,
        "email": world.alice.email,
    }
    assert (one["isBookmarked"], one["hasSeen"], one["numComments"]) == (True, True, 2)
    assert one["isSubscribed"] is True  # bookmarking and commenting subscribe
    assert (two["assignedTo"], two["isBookmarked"], two["hasSeen"]) == (None, False, False)
    assert (two["isSubscribed"], two["numComments"]) == (False, 0)
    # Another user sees the same assignee and comments but their own bookmark and seen flags.
    alice = _listed(world, token_for(world.alice))[str(first.pk)]
    assert (alice["isBookmarked"], alice["hasSeen"], alice["numComments"]) == (False, False, 2)
    assert alice["assignedTo"] == one["assignedTo"] and alice["isSubscribed"] is True
    detail = Client().get(f"/api/0/issues/{first.pk}/", headers=auth(token_for(world.bob)))
    assert detail.status_code == 200
    data = detail.json()
    assert (data["isBookmarked"], data["hasSeen"], data["numComments"]) == (True, True, 2)
    assert data["assignedTo"]["id"] == str(world.alice.pk)
    assert data["issueType"] == "error" and data["issueCategory"] == "error"


def test_a_team_assignee_is_serialized_as_a_team(world: World) -> None:
    from spyglass.issues import actions
    from spyglass.projects.models import Team

    team = Team.objects.create(organization=world.org, slug="backend-team", name="Backend team")
    issue = make_issue(world.project, "E: team")
    actions.assign(issue, actions.Assignee(team=team), world.alice)
    listed = _listed(world, token_for(world.bob))[str(issue.pk)]
    assert listed["assignedTo"] == {"type": "team", "id": str(team.pk), "name": "backend-team"}


def test_the_list_reads_triage_fields_without_a_query_per_issue(
    world: World, django_assert_max_num_queries: Any
) -> None:
    from spyglass.issues import actions

    token = token_for(world.bob)
    issue = make_issue(world.project, "E: 0")
    actions.assign(issue, actions.Assignee(user=world.alice), world.alice)
    actions.comment(issue, world.bob, "hi")
    client = Client()
    url = "/api/0/projects/acme/backend/issues/"
    params = {"query": "", "statsPeriod": "24h"}
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get(url, params, headers=auth(token)).status_code == 200
    for n in range(1, 12):
        other = make_issue(world.project, f"E: {n}")
        actions.assign(other, actions.Assignee(user=world.bob), world.alice)
        actions.bookmark(other, world.bob)
        actions.mark_seen(other, world.bob)
        actions.comment(other, world.alice, "x")
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(url, params, headers=auth(token))
    assert response.status_code == 200 and len(response.json()) == 12
    assert all(item["numComments"] == 1 for item in response.json())


def test_performance_issues_have_their_type_and_category(world: World) -> None:
    issue = make_issue(world.project, "N+1 Query")
    Issue.objects.filter(pk=issue.pk).update(
        category="performance",
        type="transaction",
        metadata={"title": "N+1 Query", "issue_type": "performance_n_plus_one_db_queries"},
    )
    feedback = make_issue(world.project, "User Feedback")
    Issue.objects.filter(pk=feedback.pk).update(category="feedback")
    listed = _listed(world, token_for(world.bob))
    perf = listed[str(issue.pk)]
    assert perf["issueType"] == "performance_n_plus_one_db_queries"
    assert perf["issueCategory"] == "performance"
    assert listed[str(feedback.pk)]["issueType"] == "feedback"
    assert listed[str(feedback.pk)]["issueCategory"] == "feedback"
