"""The streams' row chart: the last 24 hours (hourly bars) or the last 14 days (the hourly
buckets summed per UTC day), chosen in the column header and kept across tabs and pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from spyglass.events.models import IssueCount
from spyglass.issues.models import Issue
from spyglass.issues.series import daily_by_issue, stream_series
from spyglass.issues.stream import StreamQuery
from spyglass.issues.tests.test_stream_page import make_issue
from spyglass.test import World

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
HOUR, DAY = 3600, 86400
TODAY = int(NOW.timestamp()) // DAY * DAY  # 00:00 UTC today
STREAM = "/acme/backend/issues/"
ORG_STREAM = "/acme/issues/"


def count(issue: Issue, bucket: int, n: int, resolution: int = HOUR) -> None:
    IssueCount.objects.create(issue=issue, resolution=resolution, bucket=bucket, count=n)


def spread(issue: Issue) -> None:
    """Events over 15 days: today (two hours), yesterday, 13 days ago and 14 days ago (out
    of a 14-day chart), plus a minute bucket (never read: minutes duplicate the hours)."""
    count(issue, TODAY + 12 * HOUR, 2)  # 12:00 today
    count(issue, TODAY, 3)  # 00:00 today
    count(issue, TODAY - HOUR, 7)  # 23:00 yesterday
    count(issue, TODAY - 13 * DAY, 11)  # the first day of the chart
    count(issue, TODAY - 14 * DAY + 23 * HOUR, 100)  # the day before: out
    count(issue, TODAY + 12 * HOUR, 2, resolution=60)


def svg_of(html: str, issue: Issue) -> str:
    row = html.split(f'id="issue-{issue.id}"', 1)[1]
    return row.split("<svg", 1)[1].split("</svg>", 1)[0]


def bars(svg: str) -> int:
    return len(re.findall(r'<rect x="', svg))


def test_fourteen_days_are_the_hourly_buckets_summed_per_utc_day(world: World) -> None:
    issue, quiet = make_issue(world.project, 1), make_issue(world.project, 2)
    spread(issue)
    days = daily_by_issue([issue.id, quiet.id], NOW)
    assert days[issue.id] == [11] + [0] * 11 + [7, 5]
    assert days[quiet.id] == [0] * 14
    hours = stream_series([issue.id], "24h", NOW)[issue.id]
    assert len(hours) == 24 and sum(hours) == 2 + 3 + 7
    assert stream_series([issue.id], "14d", NOW) == {issue.id: days[issue.id]}


def test_the_choice_parses_and_falls_back_to_24_hours() -> None:
    assert StreamQuery.parse({}).stats == "24h"
    assert StreamQuery.parse({"groupStatsPeriod": "14d"}).stats == "14d"
    for bogus in ("30d", "", "auto", "<b>"):
        assert StreamQuery.parse({"groupStatsPeriod": bogus}).stats == "24h"


@time_machine.travel(NOW, tick=False)
def test_the_project_stream_draws_14_daily_bars_and_keeps_the_choice(
    client: Client, world: World
) -> None:
    issue = make_issue(world.project, 1)
    spread(issue)
    client.force_login(world.bob)

    html = client.get(STREAM, {"sort": "events"}).content.decode()
    svg = svg_of(html, issue)
    assert 'aria-label="12 events in 24 hours"' in svg and bars(svg) == 24
    assert 'href="?tab=unresolved&amp;sort=events" aria-current="true" data-stats="24h"' in html
    assert 'href="?tab=unresolved&amp;sort=events&amp;groupStatsPeriod=14d" data-stats="14d"' in (
        html
    )
    assert 'name="groupStatsPeriod"' not in html

    html = client.get(
        STREAM, {"sort": "events", "groupStatsPeriod": "14d", "tab": "unresolved"}
    ).content.decode()
    svg = svg_of(html, issue)
    assert 'aria-label="23 events in 14 days"' in svg and bars(svg) == 14
    assert 'data-stats="14d"' in html and 'aria-current="true" data-stats="14d"' in html
    assert 'aria-current="true" data-stats="24h"' not in html
    # the tabs keep it, and the search box sends it along
    assert 'href="/acme/backend/issues/?tab=resolved&amp;sort=events&amp;groupStatsPeriod=14d"' in (
        html
    )
    assert '<input type="hidden" name="groupStatsPeriod" value="14d">' in html


@time_machine.travel(NOW, tick=False)
def test_pages_keep_the_choice_and_the_choice_keeps_the_page(client: Client, world: World) -> None:
    for n in range(1, 30):
        make_issue(world.project, n)
    client.force_login(world.bob)
    html = client.get(STREAM, {"groupStatsPeriod": "14d"}).content.decode()
    found = re.search(r'rel="next" href="([^"]+)"', html)
    assert found
    next_page = unescape(found.group(1))
    assert "groupStatsPeriod=14d" in next_page and "cursor=" in next_page
    html = client.get(next_page).content.decode()
    assert html.count('aria-label="0 events in 14 days"') == 4  # 29 issues: 4 on page 2
    # switching the chart on page 2 stays on page 2
    found = re.search(r'href="([^"]+)" data-stats="24h"', html)
    assert found
    back = unescape(found.group(1))
    assert "cursor=" in back and "groupStatsPeriod" not in back
    html = client.get(STREAM + back).content.decode()
    assert html.count('aria-label="0 events in 24 hours"') == 4


@time_machine.travel(NOW, tick=False)
def test_a_14_day_page_costs_the_same_queries_for_one_issue_or_a_full_page(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    spread(make_issue(world.project, 1))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(STREAM, {"groupStatsPeriod": "14d"}).status_code == 200
        return len(captured.captured_queries)

    one = queries()
    for n in range(2, 40):
        spread(make_issue(world.project, n))
    assert queries() == one


@time_machine.travel(NOW, tick=False)
def test_the_organization_stream_offers_the_choice_and_keeps_the_projects(
    client: Client, world: World
) -> None:
    issue = make_issue(world.project, 1)
    other = make_issue(world.other_project, 1)
    spread(issue)
    count(other, TODAY - 5 * DAY, 4)
    client.force_login(world.bob)
    html = client.get(
        ORG_STREAM, {"project": ["backend", "frontend"], "groupStatsPeriod": "14d"}
    ).content.decode()
    assert 'aria-label="23 events in 14 days"' in svg_of(html, issue)
    assert 'aria-label="4 events in 14 days"' in svg_of(html, other)
    back = re.search(r'href="([^"]+)" data-stats="24h"', html)
    assert back and back.group(1) == (
        "?tab=unresolved&amp;sort=last-seen&amp;project=backend&amp;project=frontend"
    )
    html = client.get(ORG_STREAM).content.decode()
    assert 'aria-label="12 events in 24 hours"' in svg_of(html, issue)
    assert 'aria-label="0 events in 24 hours"' in svg_of(html, other)
