"""Triage pages and actions: one issue's actions (assign, bookmark, follow, comment, link,
resolve in a release, unmerge, delete), the stream's bulk actions beyond status (assign,
bookmark, merge, delete), a tag's values, similar issues and the organization's stream.

Every view resolves access first (``get_project`` / ``get_membership``: 404 for anyone not
in the organization) and finds the issue within that project, so a guessed number or id of
another organization's issue is a 404 too. Changes go through ``state.py`` and
``actions.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from spyglass.accounts.models import User
from spyglass.events.models import IssueTagValue
from spyglass.events.views import tag_query
from spyglass.issues import actions, state
from spyglass.issues.actions import ActionError
from spyglass.issues.models import Issue, IssueAssignee, IssueBookmark
from spyglass.issues.series import stream_series
from spyglass.issues.similar import similar_issues
from spyglass.issues.stream import PERIODS, SORTS, TABS, Page, StreamQuery, page_across
from spyglass.projects.access import get_membership, get_project, signed_in_user
from spyglass.projects.models import Organization, Project
from spyglass.search import SearchSyntaxError


def issue_of(project: Project, number: int) -> Issue:
    """The project's issue by number, or 404 (a number beyond the column's range too)."""
    issue = Issue.objects.filter(project=project, number=number).first() if number < 2**63 else None
    if issue is None:
        raise Http404("No such issue")
    issue.project = project
    return issue


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 18 else None


def project_releases(project: Project, limit: int = 200) -> list[str]:
    """The project's release versions, newest first (by release date, else creation)."""
    from spyglass.releases.models import Release

    rows = Release.objects.filter(projects=project).annotate(
        date=Coalesce("released_at", "created_at")
    )
    return list(rows.order_by("-date", "-id").values_list("version", flat=True)[:limit])


# -- one issue ------------------------------------------------------------------------------
IssueAction = Callable[[HttpRequest, Issue, User], str]


def _assign(request: HttpRequest, issue: Issue, user: User) -> str:
    actor = request.POST.get("assignee", "")
    if not actor:
        actions.unassign(issue, user)
        return "Unassigned."
    to = actions.find_assignee(issue.project, actor)
    if to is None:
        raise ActionError("Choose a member of the organization or a team of the project.")
    actions.assign(issue, to, user)
    return f"Assigned to {to.label}."


def _resolve_in_release(request: HttpRequest, issue: Issue, user: User) -> str:
    version = request.POST.get("release", "")
    if version not in project_releases(issue.project):
        raise ActionError("Choose one of the project's releases.")
    state.resolve_in_release(issue, version, user)
    return f"Resolved in {version}."


def _resolve_in_next_release(request: HttpRequest, issue: Issue, user: User) -> str:
    state.resolve_in_next_release(issue, user)
    return "Resolved in the next release."


def _toggle(change: Callable[[Issue, User, bool], None], on: bool, done: str) -> IssueAction:
    def act(request: HttpRequest, issue: Issue, user: User) -> str:
        change(issue, user, on)
        return done

    return act


def _comment(request: HttpRequest, issue: Issue, user: User) -> str:
    actions.comment(issue, user, request.POST.get("text", ""))
    return "Comment added."


def _edit_comment(request: HttpRequest, issue: Issue, user: User) -> str:
    number = _int(request.POST.get("comment"))
    if number is None:
        raise ActionError("No such comment of yours.")
    actions.edit_comment(issue, user, number, request.POST.get("text", ""))
    return "Comment saved."


def _delete_comment(request: HttpRequest, issue: Issue, user: User) -> str:
    number = _int(request.POST.get("comment"))
    if number is None:
        raise ActionError("No such comment of yours.")
    actions.delete_comment(issue, user, number)
    return "Comment deleted."


def _link(request: HttpRequest, issue: Issue, user: User) -> str:
    actions.add_link(issue, request.POST.get("url", ""), request.POST.get("title", ""), user)
    return "Link added."


def _unlink(request: HttpRequest, issue: Issue, user: User) -> str:
    number = _int(request.POST.get("link"))
    if number is None:
        raise ActionError("No such link.")
    actions.remove_link(issue, number, user)
    return "Link removed."


def _unmerge(request: HttpRequest, issue: Issue, user: User) -> str:
    new = actions.unmerge(issue, request.POST.get("hash", "")[:32], user)
    new.project = issue.project
    return f"The fingerprint is now issue {new.short_id}."


def _status(name: str) -> IssueAction:
    def act(request: HttpRequest, issue: Issue, user: User) -> str:
        from spyglass.issues.views import ACTIONS

        done, change = ACTIONS[name]
        change(issue, user)
        return f"Issue {done}."

    return act


ISSUE_ACTIONS: dict[str, IssueAction] = {
    "assign": _assign,
    "resolve-in-release": _resolve_in_release,
    "resolve-in-next-release": _resolve_in_next_release,
    "bookmark": _toggle(actions.bookmark, True, "Bookmarked."),
    "unbookmark": _toggle(actions.bookmark, False, "Bookmark removed."),
    "subscribe": _toggle(actions.subscribe, True, "Subscribed to this issue's notifications."),
    "unsubscribe": _toggle(actions.subscribe, False, "Unsubscribed from this issue."),
    "comment": _comment,
    "comment-edit": _edit_comment,
    "comment-delete": _delete_comment,
    "link": _link,
    "unlink": _unlink,
    "unmerge": _unmerge,
}


@login_required
@require_POST
def act(request: HttpRequest, org_slug: str, project_slug: str, number: int) -> HttpResponse:
    """One action on one issue, from the issue page's forms."""
    from spyglass.issues.views import ACTIONS

    project, _member = get_project(request, org_slug, project_slug)
    issue = issue_of(project, number)
    name = request.POST.get("action", "")
    handler = ISSUE_ACTIONS.get(name) or (_status(name) if name in ACTIONS else None)
    if handler is None:
        return HttpResponse("Unknown action", status=400)
    try:
        messages.success(request, handler(request, issue, signed_in_user(request)))
    except ActionError as exc:
        messages.error(request, str(exc))
    anchor = {"comment": "#activity", "comment-edit": "#activity", "comment-delete": "#activity"}
    url = reverse("issues:detail", args=[org_slug, project_slug, issue.number])
    return redirect(url + anchor.get(name, ""))


@login_required
def delete(request: HttpRequest, org_slug: str, project_slug: str, number: int) -> HttpResponse:
    """Confirm (GET) and delete (POST) one issue with its events."""
    project, _member = get_project(request, org_slug, project_slug)
    issue = issue_of(project, number)
    if request.method == "POST":
        actions.delete([issue])
        messages.success(request, f"Issue {issue.short_id} and its events were deleted.")
        return redirect("issues:stream", org_slug, project_slug)
    return _confirm_delete(request, project, [issue])


def _confirm_delete(request: HttpRequest, project: Project, issues: list[Issue]) -> HttpResponse:
    for issue in issues:
        issue.project = project
    org_slug = project.organization.slug
    return render(
        request,
        "issues/confirm_delete.html",
        {
            "organization": project.organization,
            "project": project,
            "issues": issues,
            "events": actions.total_events(issue.id for issue in issues),
            "next": _safe_next(request),
            "bulk_url": reverse("issues:bulk", args=[org_slug, project.slug]),
            "cancel_url": reverse("issues:stream", args=[org_slug, project.slug]),
        },
    )


def _confirm_delete_across(
    request: HttpRequest, organization: Organization, issues: list[Issue]
) -> HttpResponse:
    """The delete confirmation of the organization stream (issues of several projects)."""
    return render(
        request,
        "issues/confirm_delete.html",
        {
            "organization": organization,
            "issues": issues,
            "across": True,
            "events": actions.total_events(issue.id for issue in issues),
            "next": _safe_next(request),
            "bulk_url": reverse("issues:organization_bulk", args=[organization.slug]),
            "cancel_url": reverse("issues:organization_stream", args=[organization.slug]),
        },
    )


def _safe_next(request: HttpRequest) -> str:
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return back
    return ""


# -- bulk actions beyond status (called by views.bulk) ----------------------------------------
def bulk_triage(
    request: HttpRequest, project: Project, action: str, issues: list[Issue]
) -> HttpResponse | str | None:
    """A triage action on the selected issues: a message, a response (the delete
    confirmation), or None when ``action`` is not one of these."""
    user = signed_in_user(request)
    count = len(issues)
    plural = "" if count == 1 else "s"
    if action.startswith("assign:"):
        to = actions.find_assignee(project, action.removeprefix("assign:"))
        if to is None:
            raise ActionError("Choose a member of the organization or a team of the project.")
        for issue in issues:
            actions.assign(issue, to, user)
        return f"{count} issue{plural} assigned to {to.label}."
    if action == "unassign":
        for issue in issues:
            actions.unassign(issue, user)
        return f"{count} issue{plural} unassigned."
    if action in ("bookmark", "unbookmark"):
        for issue in issues:
            actions.bookmark(issue, user, action == "bookmark")
        return f"{count} issue{plural} {'bookmarked' if action == 'bookmark' else 'unbookmarked'}."
    if action.startswith("resolve-in-release:"):
        version = action.removeprefix("resolve-in-release:")
        if version not in project_releases(project):
            raise ActionError("Choose one of the project's releases.")
        for issue in issues:
            state.resolve_in_release(issue, version, user)
        return f"{count} issue{plural} resolved in {version}."
    if action == "resolve-in-next-release":
        for issue in issues:
            state.resolve_in_next_release(issue, user)
        return f"{count} issue{plural} resolved in the next release."
    if action == "merge":
        target = actions.merge(issues, user)
        target.project = project
        return f"{count} issues merged into {target.short_id}."
    if action == "delete":
        if request.POST.get("confirmed") != "yes":
            return _confirm_delete(request, project, issues)
        deleted = actions.delete(issues)
        return f"{deleted} issue{'' if deleted == 1 else 's'} and their events were deleted."
    return None


# -- bulk actions on the organization's stream ------------------------------------------------
MAX_SELECTED = 1000


def selected_ids(request: HttpRequest) -> list[int]:
    """The ``issue`` ids a bulk form sent (numbers only, at most ``MAX_SELECTED``)."""
    values = request.POST.getlist("issue")
    return [int(i) for i in values if i.isdigit() and len(i) < 19][:MAX_SELECTED]


_ACROSS = ("unassign", "bookmark", "unbookmark", "resolve-in-next-release", "merge", "delete")


@login_required
@require_POST
def organization_bulk(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The project stream's bulk actions on the organization stream's selection, which may
    span projects. Each id is looked up among the organization's projects' issues (any
    other id is ignored, never acted on); merging needs issues of one project; an assignee
    or a release must fit the project of every selected issue, or nothing is changed."""
    from spyglass.issues.views import ACTIONS

    member = get_membership(request, org_slug)
    organization = member.organization
    action = request.POST.get("action", "")
    known = action in ACTIONS or action in _ACROSS
    if not (known or action.startswith(("assign:", "resolve-in-release:"))):
        return HttpResponse("Unknown action", status=400)
    issues = list(
        Issue.objects.filter(project__organization=organization, id__in=selected_ids(request))
        .select_related("project")
        .order_by("id")
    )
    try:
        outcome = _act_across(request, organization, action, issues)
    except ActionError as exc:
        outcome = ""
        messages.error(request, str(exc))
    if isinstance(outcome, HttpResponse):
        return outcome
    if outcome:
        messages.success(request, outcome)
    back = _safe_next(request)
    return redirect(back or reverse("issues:organization_stream", args=[org_slug]))


def _act_across(
    request: HttpRequest, organization: Organization, action: str, issues: list[Issue]
) -> HttpResponse | str:
    from spyglass.issues.views import ACTIONS

    if not issues:
        raise ActionError("Select issues first.")
    user = signed_in_user(request)
    projects = list({issue.project_id: issue.project for issue in issues}.values())
    count = len(issues)
    plural = "" if count == 1 else "s"
    if action in ACTIONS:
        done, change = ACTIONS[action]
        for issue in issues:
            change(issue, user)
        return f"{count} issue{plural} {done}."
    if action == "merge":
        if len(projects) > 1:
            names = ", ".join(sorted(project.name for project in projects))
            raise ActionError(
                f"Only issues of one project can be merged; the selected ones are in {names}."
            )
        return str(bulk_triage(request, projects[0], action, issues))
    if action == "delete":
        if request.POST.get("confirmed") != "yes":
            return _confirm_delete_across(request, organization, issues)
        deleted = actions.delete(issues)
        return f"{deleted} issue{'' if deleted == 1 else 's'} and their events were deleted."
    if action.startswith("assign:"):
        actor = action.removeprefix("assign:")
        assignees = {project.id: actions.find_assignee(project, actor) for project in projects}
        missing = sorted(project.name for project in projects if assignees[project.id] is None)
        if missing:
            raise ActionError(
                "Choose a member of the organization (or a team of every selected issue's"
                f" project: not of {', '.join(missing)})."
            )
        for issue in issues:
            to = assignees[issue.project_id]
            assert to is not None
            actions.assign(issue, to, user)
        first = assignees[projects[0].id]
        return f"{count} issue{plural} assigned to {first.label if first else ''}."
    if action.startswith("resolve-in-release:"):
        version = action.removeprefix("resolve-in-release:")
        missing = sorted(p.name for p in projects if version not in project_releases(p))
        if missing:
            raise ActionError(f"{version} is not a release of {', '.join(missing)}.")
        for issue in issues:
            state.resolve_in_release(issue, version, user)
        return f"{count} issue{plural} resolved in {version}."
    # unassign, (un)bookmark, resolve in the next release: per issue, whatever its project
    for project in projects:
        bulk_triage(request, project, action, [i for i in issues if i.project_id == project.id])
    done = {
        "unassign": "unassigned",
        "bookmark": "bookmarked",
        "unbookmark": "unbookmarked",
        "resolve-in-next-release": "resolved in the next release",
    }[action]
    return f"{count} issue{plural} {done}."


def organization_releases(organization: Organization, limit: int) -> list[str]:
    """The organization's newest release versions (for the stream's "Resolve in…")."""
    from spyglass.releases.models import Release

    rows = Release.objects.filter(organization=organization).annotate(
        date=Coalesce("released_at", "created_at")
    )
    return list(rows.order_by("-date", "-id").values_list("version", flat=True)[:limit])


# -- a tag's values -------------------------------------------------------------------------
TAG_VALUES_PER_PAGE = 50


@login_required
def tag_values(
    request: HttpRequest, org_slug: str, project_slug: str, number: int, key: str
) -> HttpResponse:
    """Every value of one tag key on the issue, most frequent first, with counts and shares;
    each links to the stream search for exactly that value."""
    project, _member = get_project(request, org_slug, project_slug)
    issue = issue_of(project, number)
    rows = IssueTagValue.objects.filter(issue=issue, key=key[:200]).order_by(
        "-times_seen", "value", "id"
    )
    paginator = Paginator(rows, TAG_VALUES_PER_PAGE)
    if not paginator.count:
        raise Http404("No such tag")
    current = paginator.get_page(request.GET.get("page"))
    total = max(issue.times_seen, 1)
    stream = reverse("issues:stream", args=[org_slug, project_slug])
    values = [
        {
            "value": row.value,
            "times_seen": row.times_seen,
            "percent": min(100, round(row.times_seen * 100 / total, 1)),
            "bar": min(100, round(row.times_seen * 100 / total)),
            "first_seen": row.first_seen,
            "last_seen": row.last_seen,
            "url": f"{stream}?{urlencode({'query': tag_query(key, row.value)})}",
        }
        for row in current.object_list
    ]
    return render(
        request,
        "issues/tag_values.html",
        {
            "organization": project.organization,
            "project": project,
            "issue": issue,
            "key": key,
            "values": values,
            "page": current,
            "distinct": paginator.count,
        },
    )


# -- similar issues -------------------------------------------------------------------------
@login_required
def similar(request: HttpRequest, org_slug: str, project_slug: str, number: int) -> HttpResponse:
    project, _member = get_project(request, org_slug, project_slug)
    issue = issue_of(project, number)
    found = similar_issues(issue)
    for item in found:
        item.issue.project = project
    return render(
        request,
        "issues/similar.html",
        {
            "organization": project.organization,
            "project": project,
            "issue": issue,
            "similar": found,
        },
    )


# -- the organization's stream --------------------------------------------------------------
@login_required
def organization_stream(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Issues of every project of the organization (or the chosen ones), with the project
    stream's tabs, sorts, search and pages."""
    from spyglass.issues.views import RELEASES_IN_MENU, _filters, _marked, stats_links, stream_rows
    from spyglass.savedsearches.stream import default_search_redirect, search_context  # h11

    member = get_membership(request, org_slug)
    organization = member.organization
    # h11 (issue 5): the organization's pinned search, as on a project's stream
    if (pinned := default_search_redirect(request, organization)) is not None:
        return redirect(pinned)
    projects = list(Project.objects.filter(organization=organization).order_by("name", "id"))
    wanted = set(request.GET.getlist("project"))
    chosen = [p for p in projects if p.slug in wanted] or projects
    query = StreamQuery.parse(request.GET)
    error: SearchSyntaxError | None = None
    try:
        found = page_across(
            [p.id for p in chosen], query, user=signed_in_user(request), now=timezone.now()
        )
    except SearchSyntaxError as exc:
        error, found = exc, Page([], None, None)
    by_id = {p.id: p for p in projects}
    series = stream_series([issue.id for issue in found.issues], query.stats)
    for issue in found.issues:
        issue.project = by_id[issue.project_id]
    picked = [p.slug for p in projects if p.slug in wanted]
    filters = _filters(query)
    chosen_projects = urlencode({"project": picked}, doseq=True) if picked else ""
    if picked:
        filters = "&".join(filter(None, [filters, chosen_projects]))
    user = signed_in_user(request)
    rows = stream_rows(found.issues, series, user)
    context: dict[str, Any] = {
        "organization": organization,
        "projects": projects,
        "picked": picked,
        "query": query,
        "rows": rows,
        "members": list(
            User.objects.filter(memberships__organization=organization).order_by("email")
        ),
        "releases": organization_releases(organization, RELEASES_IN_MENU),
        "next_cursor": found.next_cursor,
        "previous_cursor": found.previous_cursor,
        "tabs": [(key, label) for key, (label, _) in TABS.items()],
        "sorts": [(key, label) for key, (label, _) in SORTS.items()],
        "periods": [(key, label) for key, (label, _) in PERIODS.items()],
        "filters": filters,
        "stats_links": stats_links(query, chosen_projects),
        "search_error": error,
        "search_error_at": _marked(query.text, error) if error else None,
        # h11 (issue 5): saved and recent searches of the search box
        **search_context(request, organization, query.text, ran=error is None),
    }
    return render(request, "issues/organization_stream.html", context)


def activity_rows(issue: Issue, user: User) -> list[dict[str, Any]]:
    """The issue's timeline, newest first, with what each entry says and whether it is the
    user's own comment (editable)."""
    rows = issue.activities.select_related("user").order_by("-created_at", "-id")[:200]
    return [
        {
            "activity": activity,
            "text": describe(activity.kind, activity.data),
            "mine": activity.kind == actions.NOTE and activity.user_id == user.pk,
        }
        for activity in rows
    ]


_KINDS = {
    "set_resolved": "marked this issue resolved",
    "set_resolved_in_next_release": "resolved this issue in the next release",
    "set_unresolved": "marked this issue unresolved",
    "set_regression": "The issue regressed",
    "set_escalating": "The issue is escalating",
    "set_resolved_by_age": "The issue was resolved automatically (not seen for a while)",
    "unassigned": "unassigned this issue",
    "merge": "merged issues into this one",
    "merge_into": "merged this issue into another",
    "unmerge_source": "split this issue off",
    "unmerge_destination": "split a fingerprint off this issue",
    "note": "commented",
}


def describe(kind: str, data: dict[str, Any]) -> str:
    """What an activity says, after who did it (plain text; the template escapes it)."""
    if kind == "set_resolved_in_release":
        return f"resolved this issue in release {data.get('version', '')}"
    if kind == "set_ignored":
        return f"archived this issue ({str(data.get('substatus', '')).replace('_', ' ')})"
    if kind == "set_priority":
        return f"set the priority to {data.get('priority', '')}"
    if kind == "assigned":
        return f"assigned this issue to {data.get('assigneeName') or data.get('assignee', '')}"
    if kind == "link_issue":
        return f"linked {data.get('title') or data.get('url', '')}"
    if kind == "unlink_issue":
        return f"removed the link {data.get('title') or data.get('url', '')}"
    if kind == "merge":
        return f"merged {', '.join(map(str, data.get('issues', [])))} into this issue"
    if kind == "merge_into":
        return f"merged {data.get('source') or 'this issue'} into {data.get('issue', '')}"
    if kind == "unmerge_source":
        return f"split this issue off {data.get('issue', '')}"
    if kind == "unmerge_destination":
        return f"split a fingerprint off into {data.get('issue', '')}"
    return _KINDS.get(kind, kind.replace("_", " "))


def hashes_of(issue: Issue) -> list[dict[str, Any]]:
    """The issue's fingerprints (grouping hashes) with how many stored events have each as
    their primary hash."""
    from django.db.models import Count

    hashes = list(issue.hashes.order_by("created_at", "id"))
    if len(hashes) == 1:
        # The digest files every event's primary hash under the event's issue (and merges
        # and unmerges move hashes with their events), so with one hash it is every stored
        # event's: a count from the (issue, timestamp) index alone, where grouping by the
        # hash reads each event row (≈1 s for an issue of 140,000 events on SQLite).
        counts = {hashes[0].hash: issue.events.count()}
    elif hashes:
        counts = dict(
            issue.events.values_list("primary_hash")
            .annotate(n=Count("id"))
            .values_list("primary_hash", "n")
        )
    else:
        counts = {}
    return [
        {
            "hash": h.hash,
            "config": h.grouping_config,
            "created_at": h.created_at,
            "events": counts.get(h.hash, 0),
        }
        for h in hashes
    ]


def feedback_of(issue: Issue) -> list[Any]:
    from spyglass.feedback.models import UserFeedback

    rows = UserFeedback.objects.filter(Q(issue=issue) | Q(feedback_issue=issue))
    return list(rows.order_by("-created_at", "-id")[:50])


def assignee_labels(issues: list[Issue]) -> dict[int, str]:
    """Issue id -> who it is assigned to, for a page of the stream (one query)."""
    rows = IssueAssignee.objects.filter(issue__in=issues).select_related("user", "team")
    return {
        row.issue_id: (row.user.name or row.user.email)
        if row.user
        else f"#{row.team.slug if row.team else ''}"
        for row in rows
    }


def bookmarked_ids(issues: list[Issue], user: User) -> set[int]:
    rows = IssueBookmark.objects.filter(issue__in=issues, user=user)
    return set(rows.values_list("issue_id", flat=True))
