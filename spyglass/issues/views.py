"""Pages of a project's issues: the stream, bulk actions on it, and (for now) a short issue
page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from spyglass.accounts.models import User
from spyglass.issues import state
from spyglass.issues.models import Issue, Priority, Status, Substatus
from spyglass.issues.series import hourly_by_issue
from spyglass.issues.stream import SORTS, TABS, Page, StreamQuery, environments, page
from spyglass.projects.access import get_project, signed_in_user
from spyglass.search import SearchSyntaxError

BADGES = {
    Substatus.NEW: "new",
    Substatus.REGRESSED: "regressed",
    Substatus.ESCALATING: "escalating",
}


def badge(issue: Issue) -> str:
    if issue.status == Status.RESOLVED:
        return "resolved"
    if issue.status == Status.IGNORED:
        return "archived"
    return BADGES.get(Substatus(issue.substatus), "") if issue.substatus else ""


@login_required
def stream(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, _member = get_project(request, org_slug, project_slug)
    query = StreamQuery.parse(request.GET)
    error: SearchSyntaxError | None = None
    try:
        found = page(project.id, query, user=signed_in_user(request), now=timezone.now())
    except SearchSyntaxError as exc:
        error, found = exc, Page([], None, None)
    issues = found.issues
    series = hourly_by_issue([issue.id for issue in issues])
    for issue in issues:
        issue.project = project  # short_id reads the slug: no query per row
    rows = [{"issue": i, "badge": badge(i), "series": series[i.id]} for i in issues]
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
            "environments": environments(project.id),
            "filters": _filters(query),
            "search_error": error,
            "search_error_at": _marked(query.text, error) if error else None,
        },
    )


def _marked(text: str, error: SearchSyntaxError) -> tuple[str, str, str]:
    """The query around the part the error is about: (before, the part, after)."""
    end = max(error.end, error.position + 1)
    return text[: error.position], text[error.position : end], text[end:]


def _filters(query: StreamQuery) -> str:
    """The query string that keeps sort, search and environment across tabs and pages."""
    params = {"sort": query.sort, "query": query.text, "environment": query.environment}
    return urlencode({key: value for key, value in params.items() if value})


@login_required
def detail(request: HttpRequest, org_slug: str, project_slug: str, number: int) -> HttpResponse:
    """A short issue page until the full one is built (the stream links here)."""
    project, _member = get_project(request, org_slug, project_slug)
    # A guessed number beyond the column's range is as absent as any other.
    issue = Issue.objects.filter(project=project, number=number).first() if number < 2**63 else None
    if issue is None:
        raise Http404("No such issue")
    issue.project = project
    return render(
        request,
        "issues/detail.html",
        {"organization": project.organization, "project": project, "issue": issue},
    )


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
    "priority-high": ("set to high priority", _priority(Priority.HIGH)),
    "priority-medium": ("set to medium priority", _priority(Priority.MEDIUM)),
    "priority-low": ("set to low priority", _priority(Priority.LOW)),
}


@login_required
@require_POST
def bulk(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    """Resolve, archive, reopen or set the priority of the selected issues of this project."""
    project, _member = get_project(request, org_slug, project_slug)
    user = signed_in_user(request)
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return HttpResponse("Unknown action", status=400)
    ids = [int(i) for i in request.POST.getlist("issue") if i.isdigit()][:1000]
    # Only this project's issues: ids of other projects are ignored, never acted on.
    issues = list(Issue.objects.filter(project=project, id__in=ids))
    done, change = ACTIONS[action]
    for issue in issues:
        change(issue, user)
    count = len(issues)
    messages.success(request, f"{count} issue{'' if count == 1 else 's'} {done}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    return redirect(back or "issues:stream", *([] if back else [org_slug, project_slug]))
