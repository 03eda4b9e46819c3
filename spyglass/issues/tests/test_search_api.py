"""Keyset cursors in /api/0/: the issue lists sorted by date or new, and an issue's events,
page by the last row's time and id (ties included), forward and back, in Sentry's Link
format; the other sorts keep offset cursors; old offset cursors still work."""

from __future__ import annotations

import re

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
