"""Issue endpoints of /api/0/, in Sentry's shapes and with Sentry's parameters:

- ``GET /projects/{org}/{project}/issues/``: one project's issues.
- ``GET /organizations/{org}/issues/``: several (``?project=<id>`` repeated; all the user's
  projects of the organization without it or with ``-1``).
- ``GET /issues/{id}/``: one issue.

Lists take ``query`` (Sentry's search language, default ``is:unresolved``; an empty
``query=`` matches everything), ``sort`` (date, new, freq, user, priority, trends),
``environment`` (repeatable), ``cursor`` and ``limit``. Anything the user may not see is a
404, never a 403.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router

from spyglass.accounts.models import User
from spyglass.events.models import IssueCount
from spyglass.issues.actions import NOTE, Assignee
from spyglass.issues.models import (
    Activity,
    Category,
    Issue,
    IssueAssignee,
    IssueBookmark,
    IssueSeen,
    IssueSubscription,
    Priority,
    Status,
    Substatus,
)
from spyglass.issues.search import issue_queryset, order_issues
from spyglass.lib.restapi import (
    BadRequest,
    Cursor,
    add_headers,
    json_response,
    paginate,
    paginate_keyset,
    parse_limit,
)
from spyglass.projects.access import get_membership, get_project, signed_in_user
from spyglass.projects.models import Project
from spyglass.search import Scope, SearchSyntaxError, parse
from spyglass.search.sorts import Sort, UnknownSortError, parse_sort

router = Router(tags=["issues"])

DEFAULT_QUERY = "is:unresolved"
MAX_QUERY_LENGTH = 10_000
STATS_PERIODS = {"24h": (24, 3600), "14d": (14, 86400)}  # buckets, seconds per bucket
_PERIOD = re.compile(r"([0-9]{1,6})([smhdw])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_PERIOD = timedelta(days=3650)
MAX_ID = 2**63 - 1
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}\Z")


def _slugs(*slugs: str) -> None:
    """404 for a path segment no slug could be (NUL and other text PostgreSQL refuses)."""
    if not all(_SLUG.match(slug) for slug in slugs):
        raise Http404("No such organization or project")


# --- serialization -----------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """Sentry's timestamps: ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def issue_url(issue: Issue) -> str:
    project = issue.project
    return f"{settings.BASE_URL}/{project.organization.slug}/{project.slug}/issues/{issue.number}/"


# Sentry's issue type of each category's issues (performance issues carry theirs, e.g.
# ``performance_n_plus_one_db_queries``, in their metadata).
_CATEGORY_TYPES: dict[str, str] = {
    Category.ERROR: "error",
    Category.PERFORMANCE: "performance",
    Category.CRON: "monitor_check_in_failure",
    Category.UPTIME: "uptime_domain_failure",
    Category.FEEDBACK: "feedback",
}


def issue_type(issue: Issue) -> str:
    """Sentry's ``issueType``: ``error`` for errors, the detector's type for a performance
    issue (``performance_n_plus_one_db_queries``, …)."""
    stored = issue.metadata.get("issue_type") if isinstance(issue.metadata, dict) else None
    if issue.category != Category.ERROR and isinstance(stored, str) and stored:
        return stored
    return _CATEGORY_TYPES.get(issue.category, str(issue.category))


def triage_fields(issues: Sequence[Issue], user: User) -> dict[int, dict[str, Any]]:
    """``assignedTo``, ``isBookmarked``, ``isSubscribed``, ``hasSeen`` and ``numComments``
    of each issue as the user sees them: five queries for any number of issues."""
    from spyglass.issues.api_write import serialize_assignee

    ids = [issue.pk for issue in issues]
    assignees = {
        row.issue_id: serialize_assignee(Assignee(user=row.user, team=row.team))
        for row in IssueAssignee.objects.filter(issue_id__in=ids).select_related("user", "team")
    }
    bookmarked = set(
        IssueBookmark.objects.filter(issue_id__in=ids, user=user).values_list("issue_id", flat=True)
    )
    subscribed = set(
        IssueSubscription.objects.filter(issue_id__in=ids, user=user, is_active=True).values_list(
            "issue_id", flat=True
        )
    )
    seen = set(
        IssueSeen.objects.filter(issue_id__in=ids, user=user).values_list("issue_id", flat=True)
    )
    comments = dict(
        Activity.objects.filter(issue_id__in=ids, kind=NOTE)
        .values("issue_id")
        .annotate(n=Count("id"))
        .values_list("issue_id", "n")
    )
    return {
        pk: {
            "numComments": comments.get(pk, 0),
            "assignedTo": assignees.get(pk),
            "isBookmarked": pk in bookmarked,
            "isSubscribed": pk in subscribed,
            "hasSeen": pk in seen,
        }
        for pk in ids
    }


def serialize_issues(issues: Sequence[Issue], user: User) -> list[dict[str, Any]]:
    """The list serializer: each issue with the user's triage fields (no query per issue)."""
    triage = triage_fields(issues, user)
    return [serialize_issue(issue, triage[issue.pk]) for issue in issues]


def serialize_issue(issue: Issue, triage: dict[str, Any] | None = None) -> dict[str, Any]:
    """One issue in Sentry's list shape; ``triage`` (from :func:`triage_fields`) gives the
    user's view of assignment, bookmark, subscription, seen and comments."""
    project = issue.project
    return {
        "id": str(issue.pk),
        "shortId": issue.short_id,
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": issue_url(issue),
        "logger": issue.logger or None,
        "level": issue.level,
        "status": Status(issue.status).label,
        "substatus": Substatus(issue.substatus).label if issue.substatus is not None else None,
        "statusDetails": {},
        "priority": Priority(issue.priority).label,
        "isPublic": False,
        "platform": issue.platform or project.platform or None,
        "project": {
            "id": str(project.pk),
            "name": project.name,
            "slug": project.slug,
            "platform": project.platform or None,
        },
        "type": issue.type,
        "issueType": issue_type(issue),
        "issueCategory": str(issue.category),
        "metadata": issue.metadata,
        "numComments": 0,
        "assignedTo": None,
        "isBookmarked": False,
        "isSubscribed": False,
        "hasSeen": False,
        **(triage or {}),
        "annotations": [],
        "count": str(issue.times_seen),
        "userCount": issue.users_seen,
        "firstSeen": iso(issue.first_seen),
        "lastSeen": iso(issue.last_seen),
    }


def _release(version: str) -> dict[str, Any] | None:
    return {"version": version, "shortVersion": version} if version else None


def serialize_issue_detail(issue: Issue, user: User | None = None) -> dict[str, Any]:
    triage = triage_fields([issue], user)[issue.pk] if user is not None else None
    data = serialize_issue(issue, triage)
    data.update(
        firstRelease=_release(issue.first_release),
        lastRelease=_release(issue.last_release),
        activity=[],
        seenBy=[],
        participants=[],
        userReportCount=0,
    )
    return data


def issue_stats(issue_ids: Sequence[int], period: str, now: datetime) -> dict[int, list[list[int]]]:
    """Events per bucket for each issue: 24 hourly buckets (``24h``) or 14 daily ones
    (``14d``) ending with the current one, as ``[[bucket start (unix s), count], …]``.
    One query over the hourly counts."""
    buckets, size = STATS_PERIODS[period]
    current = int(now.timestamp()) // size * size
    start = current - (buckets - 1) * size
    totals: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    rows = IssueCount.objects.filter(
        issue_id__in=issue_ids, resolution=3600, bucket__gte=start
    ).values_list("issue_id", "bucket", "count")
    for issue_id, bucket, count in rows:
        totals[issue_id][bucket // size * size] += count
    return {
        issue_id: [[start + i * size, totals[issue_id][start + i * size]] for i in range(buckets)]
        for issue_id in issue_ids
    }


# Sorts by one datetime then the id, whose pages are keyset ranges (the others: offsets).
KEYSET_SORTS = {Sort.DATE: "last_seen", Sort.NEW: "first_seen"}


# --- parameters ----------------------------------------------------------------------------


def parse_period(text: str) -> timedelta:
    match = _PERIOD.match(text)
    if not match:
        raise BadRequest(
            f'Invalid statsPeriod "{text[:40]}": expected a number and s, m, h, d or w'
        )
    period = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    return min(period, MAX_PERIOD)


def _storable(text: str) -> bool:
    """Whether a stored name could be this text (PostgreSQL refuses NUL; neither database
    takes unpaired surrogates)."""
    return "\x00" not in text and text.isprintable() and len(text) <= 200 and _encodes(text)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stats_period(text: str | None) -> str:
    if text is None or text == "auto":
        return "24h"
    if text not in ("", *STATS_PERIODS):
        raise BadRequest("Invalid stats_period. Valid choices are '', '24h', and '14d'")
    return text


def _search(
    request: HttpRequest,
    projects: Sequence[Project],
    *,
    query: str | None,
    sort: str | None,
    environments: list[str] | None,
    period: timedelta | None,
    stats_period: str,
    cursor: str | None,
    limit: str | None,
) -> HttpResponse:
    user = signed_in_user(request)
    now = timezone.now()
    text = DEFAULT_QUERY if query is None else query
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(f"The query is longer than {MAX_QUERY_LENGTH} characters")
    try:
        order = parse_sort(sort)
    except UnknownSortError as exc:
        raise BadRequest(str(exc)) from None
    page_cursor, page_limit = Cursor.parse(cursor), parse_limit(limit)
    wanted = [e for e in environments or () if e]
    try:
        ast = parse(text, now=now, scope=Scope.ISSUE)
        qs = issue_queryset(
            ast,
            project_ids=[p.pk for p in projects],
            user=user,
            now=now,
            environment=[e for e in wanted if _storable(e)] or None,
            period=period,
        )
    except SearchSyntaxError as exc:
        raise BadRequest(
            f"Error parsing search query: {exc.message} (at position {exc.position})"
        ) from None
    if wanted and not any(_storable(e) for e in wanted):
        qs = qs.none()  # no stored environment can be named so
    ordered: QuerySet[Issue] = order_issues(
        qs.select_related("project__organization"), order, now=now
    )
    keyset = KEYSET_SORTS.get(order)
    if keyset is not None:
        page = paginate_keyset(
            qs.select_related("project__organization"), page_cursor, page_limit, keyset
        )
    else:
        page = paginate(ordered, page_cursor, page_limit)
    body = serialize_issues(page.items, user)
    if stats_period:
        stats = issue_stats([issue.pk for issue in page.items], stats_period, now)
        for item, issue in zip(body, page.items, strict=True):
            item["stats"] = {stats_period: stats[issue.pk]}
    response = json_response(body)
    add_headers(request, response, page)
    return response


# --- endpoints ------------------------------------------------------------------------------


@router.get("/projects/{org}/{project}/issues/", response={200: list[dict[str, Any]]})
def project_issues(
    request: HttpRequest,
    org: str,
    project: str,
    query: str | None = None,
    sort: str | None = None,
    statsPeriod: str | None = None,
    environment: Query[list[str] | None] = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> HttpResponse:
    """A project's issues, newest seen first (Sentry's project issues endpoint)."""
    _slugs(org, project)
    found, _member = get_project(request, org, project)
    return _search(
        request,
        [found],
        query=query,
        sort=sort,
        environments=environment,
        period=None,
        stats_period=_stats_period(statsPeriod),
        cursor=cursor,
        limit=limit,
    )


@router.get("/organizations/{org}/issues/", response={200: list[dict[str, Any]]})
def organization_issues(
    request: HttpRequest,
    org: str,
    project: Query[list[int] | None] = None,
    query: str | None = None,
    sort: str | None = None,
    statsPeriod: str | None = None,
    groupStatsPeriod: str | None = None,
    environment: Query[list[str] | None] = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> HttpResponse:
    """Issues of several projects of an organization (all the user's when no ``project`` is
    given, or ``-1``). ``statsPeriod`` limits the search to issues seen within it."""
    _slugs(org)
    member = get_membership(request, org)
    projects = Project.objects.filter(organization=member.organization).order_by("id")
    wanted = {p for p in project or () if p != -1}
    if any(not 0 < p <= MAX_ID for p in wanted):
        raise Http404("No such project")
    if wanted:
        chosen = list(projects.filter(pk__in=wanted))
        if len(chosen) != len(wanted):
            raise Http404("No such project")
    else:
        chosen = list(projects)
    return _search(
        request,
        chosen,
        query=query,
        sort=sort,
        environments=environment,
        period=parse_period(statsPeriod) if statsPeriod else None,
        stats_period=_stats_period(groupStatsPeriod),
        cursor=cursor,
        limit=limit,
    )


def visible_issue(user: User, issue_id: str) -> Issue:
    """The issue with this id in an organization the user belongs to, or 404."""
    if not (issue_id.isascii() and issue_id.isdigit()) or len(issue_id) > 18:
        raise Http404("No such issue")
    issue = (
        Issue.objects.select_related("project__organization")
        .filter(pk=int(issue_id), project__organization__members__user=user)
        .first()
    )
    if issue is None:
        raise Http404("No such issue")
    return issue


@router.get("/issues/{issue_id}/", response={200: dict[str, Any]})
def issue_detail(request: HttpRequest, issue_id: str) -> dict[str, Any]:
    """One issue: the list's fields, first and last release, and 24 hours of stats."""
    user = signed_in_user(request)
    issue = visible_issue(user, issue_id)
    data = serialize_issue_detail(issue, user)
    data["stats"] = {"24h": issue_stats([issue.pk], "24h", timezone.now())[issue.pk]}
    return data


# The write endpoints (spyglass/issues/api_write.py) register themselves on this router.
from spyglass.issues import api_write  # noqa: E402, F401
