"""The issue stream page: access, content, escaping, tabs, sorts, pagination, bulk actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from spyglass.events.models import IssueCount, IssueTagValue
from spyglass.issues.models import Activity, Issue, Priority, Snooze, Status, Substatus
from spyglass.issues.stream import PAGE_SIZE
from spyglass.projects.models import Organization, Project
from spyglass.test import World, make_project

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
STREAM = "/acme/backend/issues/"
HOSTILE = ["<script>window.__xss=1</script>", '"><img src=x onerror=alert(1)>']


def make_issue(project: Project, number: int, **fields: object) -> Issue:
    values: dict[str, object] = {
        "title": f"Error {number}",
        "culprit": f"app.module in f{number}",
        "first_seen": NOW - timedelta(days=number),
        "last_seen": NOW - timedelta(minutes=number),
        "times_seen": number,
        "users_seen": 0,
    }
    values.update(fields)
    return Issue.objects.create(project=project, number=number, **values)


def ids(response: object) -> list[int]:
    return [row["issue"].number for row in response.context["rows"]]  # type: ignore[attr-defined]


# -- access ---------------------------------------------------------------------------------
def test_members_see_the_stream_anonymous_are_sent_to_sign_in(client: Client, world: World) -> None:
    make_issue(world.project, 1)
    assert client.get(STREAM)["Location"].startswith("/accounts/sign-in/")
    for user in (world.alice, world.bob):
        client.force_login(user)
        response = client.get(STREAM)
        assert response.status_code == 200
        assert b"Error 1" in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/acme/backend/issues/",
        "/acme/no-such-project/issues/",
        "/umbrella/secret/issues/",
        "/umbrella/backend/issues/",
        "/nope/nope/issues/",
        "/acme/backend/issues/1/",
        "/umbrella/secret/issues/1/",
        "/acme/backend/issues/99999999999999999999999999/",
    ],
)
def test_outsiders_get_404_for_streams_and_issues_that_exist_and_that_dont(
    client: Client, world: World, path: str
) -> None:
    umbrella = Organization.get_or_create_named("Umbrella")
    make_issue(make_project(umbrella, "Secret"), 1)
    make_issue(world.project, 1)
    client.force_login(world.charlie)
    assert client.get(path).status_code == 404
    client.force_login(world.bob)  # in Acme, not in Umbrella
    found = "umbrella" not in path and "no" not in path and "999" not in path
    assert client.get(path).status_code == (200 if found else 404)


def test_an_issue_number_of_another_project_is_404_in_this_one(
    client: Client, world: World
) -> None:
    make_issue(world.other_project, 7)
    client.force_login(world.bob)
    assert client.get("/acme/backend/issues/7/").status_code == 404
    assert client.get("/acme/frontend/issues/7/").status_code == 200


# -- content --------------------------------------------------------------------------------
@time_machine.travel(NOW, tick=False)
def test_a_row_shows_title_culprit_level_badge_counts_sparkline_and_times(
    client: Client, world: World
) -> None:
    issue = make_issue(
        world.project, 33, level="warning", substatus=Substatus.REGRESSED, users_seen=4
    )
    now = int(NOW.timestamp())
    IssueCount.objects.create(issue=issue, resolution=3600, bucket=now - now % 3600, count=5)
    client.force_login(world.bob)
    world.bob.time_zone = "Asia/Tokyo"
    world.bob.save()
    html = client.get(STREAM).content.decode()
    assert 'href="/acme/backend/issues/33/">Error 33</a>' in html
    assert "app.module in f33" in html
    assert 'class="level level-warning"' in html
    assert '<span class="badge badge-regressed">regressed</span>' in html
    assert "BACKEND-11" in html  # 33 in base 32
    assert 'aria-label="5 events in 24 hours"' in html
    assert (
        'title="events">33<span class="unit"> events</span></div>' in html
        and 'title="users">4</div>' in html
    )
    assert 'title="2026-11-22 20:57:00 JST">33 min ago</time>' in html


def test_the_header_switches_between_the_organizations_projects_only(
    client: Client, world: World
) -> None:
    make_project(Organization.get_or_create_named("Umbrella"), "Secret")
    client.force_login(world.bob)
    html = client.get(STREAM).content.decode()
    assert '<a href="/acme/backend/issues/" aria-current="page">Backend</a>' in html
    assert '<a href="/acme/frontend/issues/">Frontend</a>' in html
    assert "Secret" not in html and "Umbrella" not in html


def test_hostile_titles_and_culprits_are_escaped(client: Client, world: World) -> None:
    for n, text in enumerate(HOSTILE, start=1):
        make_issue(world.project, n, title=text, culprit=text)
    client.force_login(world.bob)
    html = client.get(STREAM, {"query": HOSTILE[1]}).content.decode()
    html += client.get(STREAM).content.decode()
    for text in HOSTILE:
        assert text not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html


# -- tabs, search, sorts ----------------------------------------------------------------------
def test_tabs_show_their_issues(client: Client, world: World) -> None:
    make_issue(world.project, 1, substatus=Substatus.NEW)
    make_issue(world.project, 2, substatus=Substatus.REGRESSED)
    make_issue(world.project, 3, substatus=Substatus.ESCALATING)
    make_issue(world.project, 4, substatus=Substatus.ONGOING)
    make_issue(world.project, 5, status=Status.IGNORED, substatus=Substatus.FOREVER)
    make_issue(world.project, 6, status=Status.RESOLVED, substatus=None)
    make_issue(world.other_project, 7)
    client.force_login(world.bob)
    expected = {
        "unresolved": [1, 2, 3, 4],
        "for-review": [1],
        "regressed": [2],
        "escalating": [3],
        "archived": [5],
        "resolved": [6],
        "bogus": [1, 2, 3, 4],
    }
    for tab, numbers in expected.items():
        assert ids(client.get(STREAM, {"tab": tab})) == numbers, tab


def test_the_search_box_matches_title_or_culprit_in_any_case(client: Client, world: World) -> None:
    make_issue(world.project, 1, title="KeyError: 'user'")
    make_issue(world.project, 2, culprit="payments.charge in keyed_call")
    make_issue(world.project, 3)
    client.force_login(world.bob)
    assert ids(client.get(STREAM, {"query": "KEYE"})) == [1, 2]


def test_the_search_box_speaks_the_search_language(client: Client, world: World) -> None:
    make_issue(world.project, 1, title="KeyError: 'user'", level="error")
    make_issue(world.project, 2, title="Slow checkout", level="warning", times_seen=50)
    make_issue(world.project, 3, title="KeyError: 'cart'", level="warning", times_seen=3)
    client.force_login(world.bob)
    assert ids(client.get(STREAM, {"query": "level:warning"})) == [2, 3]
    assert ids(client.get(STREAM, {"query": "KeyError timesSeen:>2"})) == [3]
    assert ids(client.get(STREAM, {"query": "level:error OR timesSeen:>10"})) == [1, 2]
    assert ids(client.get(STREAM, {"query": "!level:warning"})) == [1]


def test_a_search_that_does_not_parse_says_where_and_shows_no_issues(
    client: Client, world: World
) -> None:
    make_issue(world.project, 1)
    client.force_login(world.bob)
    response = client.get(STREAM, {"query": "timesSeen:>abc"})
    assert response.status_code == 200
    assert ids(response) == []
    error = response.context["search_error"]
    assert "timesSeen" in error.message
    assert response.context["search_error_at"] == ("timesSeen:>", "abc", "")
    assert b'aria-invalid="true"' in response.content
    assert b"<mark>abc</mark>" in response.content


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_search_is_shown_escaped(client: Client, world: World, text: str) -> None:
    client.force_login(world.bob)
    response = client.get(STREAM, {"query": f"level:{text}"})
    assert response.status_code == 200
    assert text.encode() not in response.content


def seen_in(issue: Issue, environment: str) -> None:
    IssueTagValue.objects.create(
        issue=issue, key="environment", value=environment, first_seen=NOW, last_seen=NOW
    )


def test_the_environment_filter_lists_the_projects_environments_and_keeps_across_tabs(
    client: Client, world: World
) -> None:
    both, prod, staging = (make_issue(world.project, n) for n in (1, 2, 3))
    seen_in(both, "production")
    seen_in(both, "staging")
    seen_in(prod, "production")
    seen_in(staging, "staging")
    seen_in(make_issue(world.other_project, 4), "elsewhere")
    make_issue(world.project, 5)  # no environment
    client.force_login(world.bob)
    response = client.get(STREAM, {"environment": "production", "sort": "events"})
    assert ids(response) == [2, 1]
    html = response.content.decode()
    assert '<option value="production" selected>production</option>' in html
    assert '<option value="staging">staging</option>' in html
    assert "elsewhere" not in html
    assert "?tab=resolved&amp;sort=events&amp;environment=production" in html
    assert ids(client.get(STREAM, {"environment": "staging"})) == [1, 3]
    assert ids(client.get(STREAM, {"environment": "nowhere"})) == []


@time_machine.travel(NOW, tick=False)
def test_the_time_range_keeps_the_issues_seen_in_it_and_stays_across_tabs(
    client: Client, world: World
) -> None:
    make_issue(world.project, 1, last_seen=NOW - timedelta(minutes=30))
    make_issue(world.project, 2, last_seen=NOW - timedelta(hours=30))
    make_issue(world.project, 3, last_seen=NOW - timedelta(days=20))
    client.force_login(world.bob)
    assert ids(client.get(STREAM)) == [1, 2, 3]
    assert ids(client.get(STREAM, {"statsPeriod": "1h"})) == [1]
    assert ids(client.get(STREAM, {"statsPeriod": "7d"})) == [1, 2]
    assert ids(client.get(STREAM, {"statsPeriod": "90d"})) == [1, 2, 3]
    assert ids(client.get(STREAM, {"statsPeriod": "1y; DROP"})) == [1, 2, 3]  # unknown: any time
    html = client.get(STREAM, {"statsPeriod": "24h"}).content.decode()
    assert '<option value="24h" selected>Last 24 hours</option>' in html
    assert "?tab=resolved&amp;sort=last-seen&amp;statsPeriod=24h" in html
    org = client.get("/acme/issues/", {"statsPeriod": "1h"})
    assert [row["issue"].number for row in org.context["rows"]] == [1]


def test_sorts_order_the_stream(client: Client, world: World) -> None:
    make_issue(world.project, 1, times_seen=5, users_seen=1, priority=Priority.LOW)
    make_issue(world.project, 2, times_seen=50, users_seen=3, priority=Priority.HIGH)
    make_issue(world.project, 3, times_seen=20, users_seen=9, priority=Priority.HIGH)
    client.force_login(world.bob)
    expected = {
        "last-seen": [1, 2, 3],
        "first-seen": [1, 2, 3],
        "events": [2, 3, 1],
        "users": [3, 2, 1],
        "priority": [2, 3, 1],
    }
    for sort, numbers in expected.items():
        assert ids(client.get(STREAM, {"sort": sort})) == numbers, sort


# -- pagination -----------------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["last-seen", "first-seen", "events", "users", "priority"])
def test_cursor_pages_walk_every_issue_once_even_with_ties(
    client: Client, world: World, sort: str
) -> None:
    count = PAGE_SIZE * 2 + 3
    for n in range(1, count + 1):
        # Ties on every sort column: only the id tells these apart.
        make_issue(
            world.project, n, last_seen=NOW, first_seen=NOW, times_seen=n % 3, users_seen=n % 2
        )
    client.force_login(world.bob)
    seen: list[int] = []
    params = {"sort": sort}
    for _ in range(5):
        response = client.get(STREAM, params)
        seen += ids(response)
        cursor = response.context["next_cursor"]
        if cursor is None:
            break
        assert f"cursor={cursor}" in response.content.decode()
        params = {"sort": sort, "cursor": cursor}
    assert sorted(seen) == list(range(1, count + 1))
    assert len(seen) == count
    # And back: "Previous page" from the last page shows the same pages in the same order.
    back: list[int] = ids(response)
    while (cursor := response.context["previous_cursor"]) is not None:
        assert f"cursor={cursor}" in response.content.decode()
        response = client.get(STREAM, {"sort": sort, "cursor": cursor})
        assert len(ids(response)) == PAGE_SIZE
        back = ids(response) + back
    assert back == seen


def test_a_mangled_cursor_shows_the_first_page(client: Client, world: World) -> None:
    make_issue(world.project, 1)
    client.force_login(world.bob)
    for sort in ("last-seen", "events"):
        for cursor in (
            "x.y",
            "1.2.3.4",
            "99999999999999999999999999.1",
            "",
            "-",
            "1.-99999999999999999999",
        ):
            assert ids(client.get(STREAM, {"cursor": cursor, "sort": sort})) == [1], cursor


def test_a_page_costs_the_same_queries_for_one_issue_or_a_full_page(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    make_issue(world.project, 1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(STREAM).status_code == 200
        return len(captured.captured_queries)

    one = queries()
    for n in range(2, 40):
        make_issue(world.project, n)
    assert queries() == one


# -- bulk actions ---------------------------------------------------------------------------
def test_bulk_resolve_archive_and_reopen_go_through_the_state_module(
    client: Client, world: World
) -> None:
    first, second = make_issue(world.project, 1), make_issue(world.project, 2)
    client.force_login(world.bob)
    response = client.post(
        f"{STREAM}bulk/",
        {"action": "resolve", "issue": [first.id, second.id], "next": f"{STREAM}?tab=unresolved"},
    )
    assert response["Location"] == f"{STREAM}?tab=unresolved"
    assert set(Issue.objects.values_list("status", flat=True)) == {Status.RESOLVED}
    assert Activity.objects.filter(kind="set_resolved", user=world.bob).count() == 2
    assert b"2 issues resolved." in client.get(response["Location"]).content
    client.post(f"{STREAM}bulk/", {"action": "archive", "issue": [first.id]})
    first.refresh_from_db()
    assert (first.status, first.substatus) == (Status.IGNORED, Substatus.FOREVER)
    client.post(f"{STREAM}bulk/", {"action": "reopen", "issue": [first.id]})
    first.refresh_from_db()
    assert (first.status, first.substatus) == (Status.UNRESOLVED, Substatus.ONGOING)


@time_machine.travel(NOW, tick=False)
def test_bulk_archive_with_a_condition_and_set_priority(client: Client, world: World) -> None:
    issues = [make_issue(world.project, n, users_seen=n) for n in (1, 2, 3, 4, 5, 6)]
    client.force_login(world.bob)
    page = client.get(STREAM).content.decode()
    assert 'value="archive-10-users"' in page and 'value="archive-100-users"' in page
    actions = ["archive-escalating", "archive-24h", "archive-10-events", "archive"]
    actions += ["archive-10-users", "archive-100-users"]
    for issue, action in zip(issues, actions, strict=True):
        response = client.post(f"{STREAM}bulk/", {"action": action, "issue": [issue.id]})
        assert response.status_code == 302
    states = {i.number: (i.status, i.substatus) for i in Issue.objects.all()}
    snoozes = {s.issue.number: s for s in Snooze.objects.select_related("issue")}
    assert states[1] == (Status.IGNORED, Substatus.UNTIL_ESCALATING) and 1 not in snoozes
    assert states[2] == (Status.IGNORED, Substatus.UNTIL_CONDITION_MET)
    assert snoozes[2].until == NOW + timedelta(hours=24)
    assert snoozes[3].count == 10 and snoozes[3].until is None
    assert states[4] == (Status.IGNORED, Substatus.FOREVER)
    for number, users in ((5, 10), (6, 100)):
        assert states[number] == (Status.IGNORED, Substatus.UNTIL_CONDITION_MET)
        snooze = snoozes[number]
        assert (snooze.user_count, snooze.users_seen_at_snooze) == (users, number)
        assert snooze.count is None and snooze.until is None
    response = client.post(
        f"{STREAM}bulk/", {"action": "priority-low", "issue": [i.id for i in issues]}, follow=True
    )
    assert b"6 issues set to low priority." in response.content
    assert set(Issue.objects.values_list("priority", flat=True)) == {Priority.LOW}
    assert Activity.objects.filter(kind="set_priority", user=world.bob).count() == 6


def test_bulk_actions_ignore_issues_of_other_projects_and_outsiders_get_404(
    client: Client, world: World
) -> None:
    mine, theirs = make_issue(world.project, 1), make_issue(world.other_project, 2)
    client.force_login(world.bob)
    client.post(f"{STREAM}bulk/", {"action": "resolve", "issue": [mine.id, theirs.id]})
    theirs.refresh_from_db()
    assert theirs.status == Status.UNRESOLVED
    client.force_login(world.charlie)
    response = client.post(f"{STREAM}bulk/", {"action": "resolve", "issue": [theirs.id]})
    assert response.status_code == 404


def test_bulk_actions_need_post_a_known_action_a_csrf_token_and_a_local_next(
    world: World,
) -> None:
    issue = make_issue(world.project, 1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.bob)
    assert client.get(f"{STREAM}bulk/").status_code == 405
    assert client.post(f"{STREAM}bulk/", {"action": "resolve"}).status_code == 403
    plain = Client()
    plain.force_login(world.bob)
    assert plain.post(f"{STREAM}bulk/", {"action": "explode"}).status_code == 400
    response = plain.post(
        f"{STREAM}bulk/", {"action": "resolve", "issue": issue.id, "next": "https://evil.test/"}
    )
    assert response["Location"] == STREAM


def test_an_empty_project_points_to_its_setup_page_and_dsn_an_empty_search_says_no_match(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    page = client.get(STREAM).content.decode()
    hint = page.split('id="no-issues-yet"')[1].split("</div>")[0]
    assert world.key.dsn in hint and 'href="/acme/backend/"' in hint
    assert "No events yet." in hint
    assert 'class="bulk"' not in page  # nothing to act on
    for tab in ("resolved", "archived"):
        assert 'id="no-issues-yet"' in client.get(STREAM, {"tab": tab}).content.decode()
    searched = client.get(STREAM, {"query": "TypeError"}).content.decode()
    assert "No issues match “TypeError”." in searched and "no-issues-yet" not in searched
    make_issue(world.project, 1, status=Status.RESOLVED)
    page = client.get(STREAM).content.decode()  # none unresolved, but it has had events
    assert "no-issues-yet" not in page and "No issues here. All quiet." in page
    assert 'class="bulk"' in page
    assert world.key.dsn not in page
