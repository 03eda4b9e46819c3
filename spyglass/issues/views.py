"""Pages of a project's issues: the stream, bulk actions on it, and (for now) a short issue
page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from spyglass.accounts.models import User
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.events.query import MAX_QUERY_LENGTH, filter_events
from spyglass.events.views import event_context, tag_query
from spyglass.issues import actions, state, triage
from spyglass.issues.actions import ActionError
from spyglass.issues.models import Category, Issue, Priority, Resolution, Status, Substatus
from spyglass.issues.series import HOUR, stream_series
from spyglass.issues.stream import (
    DEFAULT_STATS,
    PERIODS,
    SORTS,
    STATS,
    TABS,
    Page,
    StreamQuery,
    environments,
    page,
)
from spyglass.lib import keyset
from spyglass.perfissues.occurrences import occurrence_context, occurrences_page
from spyglass.projects.access import get_project, signed_in_user
from spyglass.savedsearches.stream import default_search_redirect, search_context
from spyglass.search import SearchSyntaxError

BADGES = {
    Substatus.NEW: "new",
    Substatus.REGRESSED: "regressed",
    Substatus.ESCALATING: "escalating",
}


def stream_rows(issues: list[Issue], series: dict[int, Any], user: User) -> list[dict[str, Any]]:
    """A stream's rows (a project's or the organization's): each issue with its badge, its
    chart's series, its assignee and whether the user bookmarked it."""
    assigned = triage.assignee_labels(issues)
    bookmarked = triage.bookmarked_ids(issues, user)
    return [
        {
            "issue": i,
            "badge": badge(i),
            "series": series[i.id],
            "assignee": assigned.get(i.id),
            "bookmarked": i.id in bookmarked,
        }
        for i in issues
    ]


def badge(issue: Issue) -> str:
    if issue.status == Status.RESOLVED:
        return "resolved"
    if issue.status == Status.IGNORED:
        return "archived"
    return BADGES.get(Substatus(issue.substatus), "") if issue.substatus else ""


@login_required
def stream(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, _member = get_project(request, org_slug, project_slug)
    if (pinned := default_search_redirect(request, project)) is not None:
        return redirect(pinned)
    query = StreamQuery.parse(request.GET)
    error: SearchSyntaxError | None = None
    try:
        found = page(project.id, query, user=signed_in_user(request), now=timezone.now())
    except SearchSyntaxError as exc:
        error, found = exc, Page([], None, None)
    issues = found.issues
    series = stream_series([issue.id for issue in issues], query.stats)
    for issue in issues:
        issue.project = project  # short_id reads the slug: no query per row
    rows = stream_rows(issues, series, signed_in_user(request))
    members, teams = actions.assignable(project)
    # A project without any issue yet: the empty stream points to the setup page and its DSN.
    no_issues_yet = (
        not issues and not query.text and not Issue.objects.filter(project=project).exists()
    )
    key = project.default_key() if no_issues_yet else None
    return render(
        request,
        "issues/stream.html",
        {
            "organization": project.organization,
            "project": project,
            "query": query,
            "rows": rows,
            "next_cursor": found.next_cursor,
            "previous_cursor": found.previous_cursor,
            "tabs": [(key, label) for key, (label, _) in TABS.items()],
            "sorts": [(key, label) for key, (label, _) in SORTS.items()],
            "periods": [(key, label) for key, (label, _) in PERIODS.items()],
            "environments": environments(project.id),
            "filters": _filters(query),
            "stats_links": stats_links(query),
            "search_error": error,
            "search_error_at": _marked(query.text, error) if error else None,
            "members": members,
            "teams": teams,
            "releases": triage.project_releases(project, RELEASES_IN_MENU),
            "no_issues_yet": no_issues_yet,
            "dsn": key.dsn if key else "",
            **search_context(request, project, query.text, ran=error is None),
        },
    )


def _marked(text: str, error: SearchSyntaxError) -> tuple[str, str, str]:
    """The query around the part the error is about: (before, the part, after)."""
    end = max(error.end, error.position + 1)
    return text[: error.position], text[error.position : end], text[end:]


def _filters(query: StreamQuery) -> str:
    """The query string that keeps sort, search, environment, time range and the rows' chart
    across tabs and pages."""
    params = {
        "sort": query.sort,
        "query": query.text,
        "environment": query.environment,
        "statsPeriod": query.period,
        "groupStatsPeriod": "" if query.stats == DEFAULT_STATS else query.stats,
    }
    return urlencode({key: value for key, value in params.items() if value})


def stats_links(query: StreamQuery, extra: str = "") -> list[tuple[str, str, str]]:
    """(key, label, query string) of the column header's chart choices: this page (tab,
    filters, cursor, ``extra`` such as the organization stream's projects) with that chart."""
    links = []
    for key, (label, _spoken) in STATS.items():
        parts = [
            urlencode({"tab": query.tab}),
            _filters(replace(query, stats=key)),
            extra,
            urlencode({"cursor": query.cursor}) if query.cursor else "",
        ]
        links.append((key, label, "?" + "&".join(part for part in parts if part)))
    return links


@login_required
def detail(request: HttpRequest, org_slug: str, project_slug: str, number: int) -> HttpResponse:
    """The issue page: header, actions, charts, tag distributions and one event (the latest,
    or ``?event=<event_id>``) with links to the older and newer ones."""
    project, _member = get_project(request, org_slug, project_slug)
    # A guessed number beyond the column's range is as absent as any other.
    issue = Issue.objects.filter(project=project, number=number).first() if number < 2**63 else None
    if issue is None:
        raise Http404("No such issue")
    issue.project = project
    # Performance issues: occurrences instead of events (spyglass.perfissues.occurrences).
    perf = occurrence_context(issue, request.GET.get("occurrence", ""))
    events = Event.objects.filter(issue=issue)
    wanted = request.GET.get("event", "")
    if wanted:
        event = events.filter(event_id=wanted[:32]).first()
        if event is None:
            raise Http404("No such event")
    else:
        event = events.order_by("-timestamp", "-id").first()
    hours, days = _charts(issue.id, timezone.now())
    user = signed_in_user(request)
    actions.mark_seen(issue, user)
    members, teams = actions.assignable(project)
    return render(
        request,
        "issues/detail.html",
        {
            "organization": project.organization,
            "project": project,
            "issue": issue,
            "badge": badge(issue),
            "hours": hours,
            "days": days,
            "tags": tag_distributions(issue),
            "event": event,
            "perf": perf,
            "view": event_context(event) if event else None,
            "nav": _navigation(issue, event) if event else {},
            "assignee": actions.assignee_of(issue),
            "members": members,
            "teams": teams,
            "bookmarked": actions.is_bookmarked(issue, user),
            "subscribed": actions.is_subscribed(issue, user),
            "releases": triage.project_releases(project),
            "resolution": Resolution.objects.filter(issue=issue).first(),
            "activities": triage.activity_rows(issue, user),
            "feedback": triage.feedback_of(issue),
            "links": list(issue.links.order_by("created_at", "id")),
            "hashes": triage.hashes_of(issue),
            "max_comment": actions.MAX_COMMENT,
            "archive_choices": ARCHIVE_CHOICES,
            "priorities": [(p.value, p.label) for p in Priority],
        },
    )


def _navigation(issue: Issue, event: Event) -> dict[str, str | None]:
    """Event ids of the oldest, older and newer events (by timestamp, then id)."""
    rows = Event.objects.filter(issue=issue)
    return keyset.neighbours(rows, event.timestamp, event.id, "event_id")


EVENTS_PER_PAGE = 50


def _tag_values(issue: Issue, key: str) -> list[str]:
    rows = IssueTagValue.objects.filter(issue=issue, key=key).order_by("value")
    return list(rows.values_list("value", flat=True)[:200])


@login_required
def events(request: HttpRequest, org_slug: str, project_slug: str, number: int) -> HttpResponse:
    """An issue's events, newest first, 50 a page by (timestamp, id), filtered by environment,
    release and the event query (free text and the event's column keys)."""
    project, _member = get_project(request, org_slug, project_slug)
    issue = Issue.objects.filter(project=project, number=number).first() if number < 2**63 else None
    if issue is None:
        raise Http404("No such issue")
    issue.project = project
    if issue.category == Category.PERFORMANCE:  # its occurrences (spyglass.perfissues)
        return occurrences_page(request, project, issue)
    environment = request.GET.get("environment", "")[:64]
    release = request.GET.get("release", "")[:250]
    text = request.GET.get("query", "")[:MAX_QUERY_LENGTH]
    rows = Event.objects.filter(issue=issue).defer("body", "tags")
    if environment:
        rows = rows.filter(environment=environment)
    if release:
        rows = rows.filter(release=release)
    error: SearchSyntaxError | None = None
    try:
        rows = filter_events(rows, text)
    except SearchSyntaxError as exc:
        error, rows = exc, rows.none()
    after = keyset.after(request.GET.get("cursor", ""))
    if after is not None:
        rows = rows.filter(after)
    found = list(rows.order_by("-timestamp", "-id")[: EVENTS_PER_PAGE + 1])
    more = len(found) > EVENTS_PER_PAGE
    found = found[:EVENTS_PER_PAGE]
    params = {"environment": environment, "release": release, "query": text}
    return render(
        request,
        "issues/events.html",
        {
            "organization": project.organization,
            "project": project,
            "issue": issue,
            "events": [{"event": e, "user": e.user_key.partition(":")[2]} for e in found],
            "environment": environment,
            "release": release,
            "text": text,
            "environments": _tag_values(issue, "environment"),
            "releases": _tag_values(issue, "release"),
            "filters": urlencode({k: v for k, v in params.items() if v}),
            "paged": after is not None,
            "next_cursor": keyset.cursor(found[-1].timestamp, found[-1].id) if more else None,
            "search_error": error,
            "search_error_at": _marked(text, error) if error else None,
        },
    )


TOP_VALUES = 5


def tag_distributions(issue: Issue) -> list[dict[str, object]]:
    """Per key, the most frequent values with their share of the issue's events, in one
    query (a window ranks values within their key)."""
    rows = (
        IssueTagValue.objects.filter(issue=issue)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("key")],
                order_by=[F("times_seen").desc(), F("value").asc()],
            ),
            values=Window(Count("id"), partition_by=[F("key")]),
        )
        .filter(rank__lte=TOP_VALUES)
        .order_by("key", "rank")
        .values_list("key", "value", "times_seen", "values")
    )
    total = max(issue.times_seen, 1)
    keys: dict[str, dict[str, object]] = {}
    for key, value, seen, count in rows:
        entry = keys.setdefault(key, {"key": key, "count": count, "values": []})
        share = min(100, round(seen * 100 / total))
        search = tag_query(key, value)
        entry["values"].append(  # type: ignore[attr-defined]
            {"value": value, "times_seen": seen, "percent": share, "query": search}
        )
    order = {key: n for n, key in enumerate(KNOWN_TAGS)}
    return sorted(keys.values(), key=lambda e: (order.get(str(e["key"]), len(order)), e["key"]))


KNOWN_TAGS = ["environment", "release", "level", "handled", "browser", "os", "device", "url"]
KNOWN_TAGS += ["transaction", "server_name", "user", "runtime", "mechanism"]


def _charts(issue_id: int, now: datetime) -> tuple[dict[str, object], dict[str, object]]:
    """24 hourly and 30 daily counts (oldest first) from the hourly buckets, in one query."""
    hour = int(now.timestamp()) // HOUR * HOUR
    day = hour - hour % DAY
    start = day - 29 * DAY
    hourly, daily = [0] * 24, [0] * 30
    rows = IssueCount.objects.filter(issue_id=issue_id, resolution=HOUR, bucket__gte=start)
    for bucket, count in rows.values_list("bucket", "count"):
        if 0 <= (h := (bucket - hour) // HOUR + 23) < 24:
            hourly[h] += count
        if 0 <= (d := (bucket - start) // DAY) < 30:
            daily[d] += count
    zone = timezone.get_current_timezone()

    def label(seconds: int, fmt: str) -> str:
        return datetime.fromtimestamp(seconds, zone).strftime(fmt)

    return (
        {
            "values": hourly,
            "labels": [label(hour - (23 - n) * HOUR, "%b %d %H:00") for n in range(24)],
        },
        # Days are UTC days, so their labels are too.
        {
            "values": daily,
            "labels": [
                datetime.fromtimestamp(start + n * DAY, UTC).strftime("%b %d") for n in range(30)
            ],
        },
    )


DAY = 24 * HOUR

Change = Callable[[Issue, User], None]


def _archive(condition: Callable[[], state.ArchiveCondition]) -> Change:
    return lambda issue, user: state.archive(issue, condition(), user)


def _priority(priority: int) -> Change:
    return lambda issue, user: state.set_priority(issue, priority, user)


# action: (what the message says was done, the change through issues/state.py)
ACTIONS: dict[str, tuple[str, Change]] = {
    "resolve": ("resolved", state.resolve),
    "reopen": ("reopened", state.reopen),
    "archive": ("archived forever", _archive(lambda: state.ArchiveCondition(forever=True))),
    "archive-escalating": ("archived until escalating", _archive(state.ArchiveCondition)),
    "archive-24h": (
        "archived for 24 hours",
        _archive(lambda: state.ArchiveCondition(until=timezone.now() + timedelta(hours=24))),
    ),
    "archive-10-events": (
        "archived until 10 more events",
        _archive(lambda: state.ArchiveCondition(count=10)),
    ),
    "archive-10-users": (
        "archived until 10 more users",
        _archive(lambda: state.ArchiveCondition(user_count=10)),
    ),
    "archive-100-users": (
        "archived until 100 more users",
        _archive(lambda: state.ArchiveCondition(user_count=100)),
    ),
    "priority-high": ("set to high priority", _priority(Priority.HIGH)),
    "priority-medium": ("set to medium priority", _priority(Priority.MEDIUM)),
    "priority-low": ("set to low priority", _priority(Priority.LOW)),
}


RELEASES_IN_MENU = 10  # the stream's "Resolve in…" menu: the newest releases

ARCHIVE_CHOICES = [
    ("archive-escalating", "Until escalating"),
    ("archive-10-events", "Until 10 more events"),
    ("archive-10-users", "Until 10 more users"),
    ("archive-100-users", "Until 100 more users"),
    ("archive-24h", "For 24 hours"),
    ("archive", "Forever"),
]


@login_required
@require_POST
def bulk(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    """Resolve, archive, reopen, set the priority, assign, bookmark, merge or delete the
    selected issues of this project (the triage ones are in triage.bulk_triage)."""
    project, _member = get_project(request, org_slug, project_slug)
    user = signed_in_user(request)
    action = request.POST.get("action", "")
    ids = triage.selected_ids(request)
    # Only this project's issues: ids of other projects are ignored, never acted on.
    issues = list(Issue.objects.filter(project=project, id__in=ids).order_by("id"))
    if action in ACTIONS:
        done, change = ACTIONS[action]
        for issue in issues:
            change(issue, user)
        count = len(issues)
        messages.success(request, f"{count} issue{'' if count == 1 else 's'} {done}.")
    else:
        try:
            outcome = triage.bulk_triage(request, project, action, issues)
        except ActionError as exc:
            outcome = ""
            messages.error(request, str(exc))
        if outcome is None:
            return HttpResponse("Unknown action", status=400)
        if isinstance(outcome, HttpResponse):
            return outcome
        if outcome:
            messages.success(request, outcome)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    return redirect(back or "issues:stream", *([] if back else [org_slug, project_slug]))
