"""Event counts over the last 24 hours (per hour) or 14 days (per UTC day), per issue or per
project, from the hourly buckets (IssueCount): one query for a whole page, whatever the
number of rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Sum
from django.utils import timezone

from spyglass.events.models import IssueCount

HOUR = 3600
HOURS = 24
DAY = 24 * HOUR
DAYS = 14


def _first_bucket(now: datetime | None) -> int:
    seconds = int((now or timezone.now()).timestamp())
    return seconds - seconds % HOUR - (HOURS - 1) * HOUR


def _series(rows: Iterable[tuple[int, int, int]], start: int) -> dict[int, list[int]]:
    series: dict[int, list[int]] = defaultdict(lambda: [0] * HOURS)
    for owner, bucket, count in rows:
        index = (bucket - start) // HOUR
        if 0 <= index < HOURS:
            series[owner][index] += count
    return series


def hourly_by_issue(issue_ids: list[int], now: datetime | None = None) -> dict[int, list[int]]:
    """{issue id: 24 hourly counts, oldest first}; issues without events get zeros."""
    start = _first_bucket(now)
    rows = IssueCount.objects.filter(
        issue_id__in=issue_ids, resolution=HOUR, bucket__gte=start
    ).values_list("issue_id", "bucket", "count")
    found = _series(rows, start)
    return {issue_id: found[issue_id] for issue_id in issue_ids}


def hourly_by_project(project_ids: list[int], now: datetime | None = None) -> dict[int, list[int]]:
    """{project id: 24 hourly counts, oldest first}, summed over the projects' issues."""
    start = _first_bucket(now)
    rows = (
        IssueCount.objects.filter(
            issue__project_id__in=project_ids, resolution=HOUR, bucket__gte=start
        )
        .values("issue__project_id", "bucket")
        .annotate(total=Sum("count"))
        .values_list("issue__project_id", "bucket", "total")
    )
    found = _series(rows, start)
    return {project_id: found[project_id] for project_id in project_ids}


def daily_by_issue(issue_ids: list[int], now: datetime | None = None) -> dict[int, list[int]]:
    """{issue id: 14 daily counts, oldest first}: the hourly buckets summed per UTC day, the
    last one today's so far; issues without events get zeros."""
    seconds = int((now or timezone.now()).timestamp())
    start = seconds - seconds % DAY - (DAYS - 1) * DAY
    rows = IssueCount.objects.filter(
        issue_id__in=issue_ids, resolution=HOUR, bucket__gte=start
    ).values_list("issue_id", "bucket", "count")
    series: dict[int, list[int]] = defaultdict(lambda: [0] * DAYS)
    for issue_id, bucket, count in rows:
        index = (bucket - start) // DAY
        if 0 <= index < DAYS:
            series[issue_id][index] += count
    return {issue_id: series[issue_id] for issue_id in issue_ids}


def stream_series(
    issue_ids: list[int], stats: str, now: datetime | None = None
) -> dict[int, list[int]]:
    """The stream rows' chart: "14d" daily, anything else ("24h") hourly."""
    if stats == "14d":
        return daily_by_issue(issue_ids, now)
    return hourly_by_issue(issue_ids, now)
