"""The issue stream's query: tabs, sorts, a search in Spyglass's search language (see
docs/search.md) and keyset (cursor) pagination.

Every sort is descending and ends with the id, so a cursor (the last row's sort values) names
one position exactly and the next page is an index range scan, as fast on page 1,000 as on
page 1. The indexes are in models.py (Issue.Meta).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from spyglass.accounts.models import User
from spyglass.events.models import IssueTagValue
from spyglass.issues.models import Issue, Status, Substatus
from spyglass.issues.search import issue_queryset
from spyglass.search import Scope, parse

PAGE_SIZE = 25
MAX_QUERY = 2000  # characters of a search typed into the box

# tab: (label, filter)
TABS: dict[str, tuple[str, Q]] = {
    "unresolved": ("Unresolved", Q(status=Status.UNRESOLVED)),
    "for-review": ("For review", Q(status=Status.UNRESOLVED, substatus=Substatus.NEW)),
    "regressed": ("Regressed", Q(status=Status.UNRESOLVED, substatus=Substatus.REGRESSED)),
    "escalating": ("Escalating", Q(status=Status.UNRESOLVED, substatus=Substatus.ESCALATING)),
    "archived": ("Archived", Q(status=Status.IGNORED)),
    "resolved": ("Resolved", Q(status=Status.RESOLVED)),
}
# sort: (label, columns, all descending; the id breaks ties)
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "last-seen": ("Last seen", ("last_seen",)),
    "first-seen": ("First seen", ("first_seen",)),
    "events": ("Events", ("times_seen",)),
    "users": ("Users", ("users_seen",)),
    "priority": ("Priority", ("priority", "last_seen")),
}
# time range (Sentry's statsPeriod values): (label, length); "" is any time
PERIODS: dict[str, tuple[str, timedelta | None]] = {
    "": ("Any time", None),
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "14d": ("Last 14 days", timedelta(days=14)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
}
# the rows' event chart (Sentry's groupStatsPeriod): (column label, its spoken length)
STATS: dict[str, tuple[str, str]] = {
    "24h": ("24 h", "24 hours"),  # 24 hourly bars
    "14d": ("14 d", "14 days"),  # 14 daily bars (UTC days), the hourly buckets summed
}
DEFAULT_STATS = "24h"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StreamQuery:
    tab: str = "unresolved"
    sort: str = "last-seen"
    text: str = ""
    environment: str = ""
    period: str = ""  # a key of PERIODS: issues seen in that time (an event in it)
    cursor: str = ""
    stats: str = DEFAULT_STATS  # a key of STATS: the rows' chart

    @classmethod
    def parse(cls, params: Any) -> StreamQuery:
        tab = params.get("tab", "unresolved")
        sort = params.get("sort", "last-seen")
        period = params.get("statsPeriod", "")
        stats = params.get("groupStatsPeriod", DEFAULT_STATS)
        return cls(
            tab=tab if tab in TABS else "unresolved",
            sort=sort if sort in SORTS else "last-seen",
            text=str(params.get("query", "")).strip()[:MAX_QUERY],
            environment=str(params.get("environment", ""))[:64],
            period=period if period in PERIODS else "",
            cursor=str(params.get("cursor", ""))[:100],
            stats=stats if stats in STATS else DEFAULT_STATS,
        )

    @property
    def columns(self) -> tuple[str, ...]:
        return (*SORTS[self.sort][1], "id")


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return str((value - _EPOCH) // timedelta(microseconds=1))
    return str(value)


def _decode(column: str, text: str) -> object:
    number = int(text)
    if not -(2**63) <= number < 2**63:
        raise OverflowError("beyond a database integer")  # the cursor was made up
    if column in ("last_seen", "first_seen"):
        return _EPOCH + timedelta(microseconds=number)
    return number


def cursor_of(issue: Issue, columns: tuple[str, ...]) -> str:
    return ".".join(_encode(getattr(issue, column)) for column in columns)


def _beyond(cursor: str, columns: tuple[str, ...], *, backwards: bool) -> Q | None:
    """Rows after the cursor in the stream's (descending) order, or before it when
    ``backwards``; None for a cursor that doesn't parse."""
    parts = cursor.split(".")
    if len(parts) != len(columns):
        return None
    try:
        values = [_decode(c, p) for c, p in zip(columns, parts, strict=True)]
    except (ValueError, OverflowError):
        return None
    lookup = "gt" if backwards else "lt"
    condition = Q()
    for n, column in enumerate(columns):
        equal = Q(**{c: v for c, v in zip(columns[:n], values[:n], strict=True)})
        condition |= equal & Q(**{f"{column}__{lookup}": values[n]})
    return condition


@dataclass(frozen=True)
class Page:
    issues: list[Issue]
    next_cursor: str | None  # None on the last page
    previous_cursor: str | None  # None on the first page


def page(project_id: int, query: StreamQuery, *, user: User, now: datetime) -> Page:
    """One page of issues, with the cursors of the pages around it. A search that doesn't
    parse or can't be run raises SearchSyntaxError (with the position of the bad part)."""
    return page_across([project_id], query, user=user, now=now)


def page_across(project_ids: list[int], query: StreamQuery, *, user: User, now: datetime) -> Page:
    """``page`` over several projects (the organization's stream)."""
    issues: QuerySet[Issue] = Issue.objects.filter(TABS[query.tab][1], project_id__in=project_ids)
    if query.text:
        ast = parse(query.text, now=now, scope=Scope.ISSUE)
        issues &= issue_queryset(ast, project_ids=project_ids, user=user, now=now)
    if query.environment:
        # Per candidate row, one probe of the (issue, key, value) unique index.
        seen_in = IssueTagValue.objects.filter(
            issue=OuterRef("pk"), key="environment", value=query.environment
        )
        issues = issues.filter(Exists(seen_in))
    length = PERIODS[query.period][1]
    if length is not None:
        issues = issues.filter(last_seen__gte=now - length)
    columns = query.columns
    backwards = query.cursor.startswith("-")
    beyond = _beyond(query.cursor.lstrip("-"), columns, backwards=backwards)
    if beyond is None:
        backwards = False
    else:
        issues = issues.filter(beyond)
    # Backwards: the rows just before the cursor, read in ascending order, then turned round.
    order = [c if backwards else f"-{c}" for c in columns]
    rows = list(issues.order_by(*order)[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if backwards:
        rows.reverse()
    first = cursor_of(rows[0], columns) if rows else None
    last = cursor_of(rows[-1], columns) if rows else None
    if backwards:
        return Page(rows, last, f"-{first}" if more and first else None)
    return Page(rows, last if more else None, f"-{first}" if beyond is not None and first else None)


def environments(project_id: int) -> list[str]:
    """The environments the project's issues were seen in, for the filter."""
    values = (
        IssueTagValue.objects.filter(issue__project_id=project_id, key="environment")
        .values_list("value", flat=True)
        .distinct()
        .order_by("value")
    )
    return list(values[:100])


def latest_across(project_ids: list[int], limit: int = 10) -> list[Issue]:
    """The most recently seen unresolved issues of several projects, newest first.

    One ``project IN (…) ORDER BY last_seen`` would sort every unresolved issue of those
    projects (≈300 ms for 200,000 on SQLite); instead each project gives its newest ``limit``
    from its own index range, and the union is sorted: one query, ``limit`` rows per project.
    """
    project_ids = project_ids[:200]
    if not project_ids:
        return []
    table = Issue._meta.db_table
    part = (
        f"SELECT * FROM (SELECT id, last_seen FROM {table} WHERE project_id = %s AND status = %s"
        " ORDER BY last_seen DESC, id DESC LIMIT %s) AS p{n}"
    )
    union = " UNION ALL ".join(part.format(n=n) for n in range(len(project_ids)))
    sql = f"SELECT id FROM ({union}) AS latest ORDER BY last_seen DESC, id DESC LIMIT %s"
    params: list[int] = []
    for project_id in project_ids:
        params += [project_id, int(Status.UNRESOLVED), limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        ids = [row[0] for row in cursor.fetchall()]
    found = Issue.objects.select_related("project").in_bulk(ids)
    return [found[i] for i in ids if i in found]
