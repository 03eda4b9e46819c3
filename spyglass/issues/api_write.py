"""Issue write endpoints of /api/0/, in Sentry's shapes (mounted on the issues router):

- ``PUT /issues/{id}/``: update one issue; answers the issue with the changes applied.
- ``DELETE /issues/{id}/``: delete it with its events (202, as Sentry's queued delete).
- ``PUT /projects/{org}/{project}/issues/?id=1&id=2``: update several (without ``id``: the
  issues matching ``query``, ``is:unresolved`` by default, at most 1000); answers the delta.
  ``{"merge": 1}`` merges them.
- ``DELETE /projects/{org}/{project}/issues/?id=…``: delete several (ids required).
- ``GET/POST /issues/{id}/comments/``, ``PUT/DELETE /issues/{id}/comments/{note}/``.

Update fields: ``status`` (resolved, resolvedInNextRelease, unresolved, ignored) with
``statusDetails`` (inRelease, inNextRelease, ignoreDuration [minutes], ignoreCount,
ignoreWindow, ignoreUserCount, ignoreUserWindow, ignoreUntilEscalating), ``substatus``
(archived_forever, …), ``assignedTo`` ("user:ID", "team:ID", an email, or null/"" to
unassign), ``hasSeen``, ``isBookmarked``, ``isSubscribed``, ``priority`` (low, medium,
high). Writes need a token with ``event:write`` (deletes: ``event:admin``); anything the user
can't see is a 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from spyglass.accounts.models import ApiToken, User
from spyglass.issues import actions, state
from spyglass.issues.actions import ActionError
from spyglass.issues.api import _slugs, iso, router, serialize_issue_detail, visible_issue
from spyglass.issues.models import Activity, Issue, Priority, Resolution, Snooze, Status
from spyglass.issues.search import issue_queryset
from spyglass.lib.restapi import ApiError, BadRequest, json_response
from spyglass.projects.access import get_project, signed_in_user
from spyglass.projects.models import Project
from spyglass.search import Scope, SearchSyntaxError, parse

MAX_BULK = 1000
NO_PERMISSION = "You do not have permission to perform this action."
STATUSES = {"resolved", "resolvedInNextRelease", "unresolved", "ignored", "muted"}
SUBSTATUSES = {
    "archived_forever",
    "archived_until_escalating",
    "archived_until_condition_met",
    "ongoing",
    "escalating",
    "new",
    "regressed",
}


def _require(request: HttpRequest, level: str) -> None:
    """The token must hold ``event:<level>`` or stronger (write < admin)."""
    token = request.auth  # type: ignore[attr-defined]
    levels = ("write", "admin") if level == "write" else ("admin",)
    if isinstance(token, ApiToken) and set(token.scopes) & {f"event:{lvl}" for lvl in levels}:
        return
    raise ApiError(403, NO_PERMISSION)


def _body(request: HttpRequest) -> dict[str, Any]:
    import orjson

    if not request.body:
        return {}
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Invalid JSON body") from exc
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object")
    return data


# -- serialization ---------------------------------------------------------------------------
def serialize_user(user: User) -> dict[str, Any]:
    return {
        "id": str(user.pk),
        "name": user.name or user.email,
        "username": user.email,
        "email": user.email,
        "avatarUrl": None,
    }


def serialize_assignee(assignee: actions.Assignee | None) -> dict[str, Any] | None:
    if assignee is None:
        return None
    if assignee.user is not None:
        return {
            "type": "user",
            "id": str(assignee.user.pk),
            "name": assignee.user.name or assignee.user.email,
            "email": assignee.user.email,
        }
    team = assignee.team
    assert team is not None
    return {"type": "team", "id": str(team.pk), "name": team.slug}


def status_details(issue: Issue) -> dict[str, Any]:
    """Sentry's statusDetails for the issue's current state."""
    if issue.status == Status.RESOLVED:
        resolution = Resolution.objects.filter(issue=issue).first()
        if resolution is None:
            return {}
        if resolution.kind == Resolution.Kind.IN_NEXT_RELEASE:
            return {"inNextRelease": True}
        return {"inRelease": resolution.release}
    if issue.status == Status.IGNORED:
        snooze = Snooze.objects.filter(issue=issue).first()
        if snooze is None:
            return {"ignoreUntilEscalating": True} if issue.substatus == 1 else {}
        return {
            "ignoreCount": snooze.count,
            "ignoreUntil": iso(snooze.until) if snooze.until else None,
            "ignoreUserCount": snooze.user_count,
            "ignoreUserWindow": snooze.user_window,
            "ignoreWindow": snooze.window,
            "actor": None,
        }
    return {}


def serialize_note(note: Activity) -> dict[str, Any]:
    return {
        "id": str(note.pk),
        "user": serialize_user(note.user) if note.user else None,
        "type": "note",
        "issue": None,
        "data": {"text": note.data.get("text", "")},
        "dateCreated": iso(note.created_at),
    }


# -- applying an update ------------------------------------------------------------------------
def _int_or_none(details: dict[str, Any], key: str) -> int | None:
    value = details.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10**9:
        raise BadRequest(f"Invalid statusDetails.{key}: a positive whole number")
    return int(value)


def _archive_condition(data: dict[str, Any]) -> state.ArchiveCondition:
    details = data.get("statusDetails") or {}
    if not isinstance(details, dict):
        raise BadRequest("Invalid statusDetails: an object")
    duration = _int_or_none(details, "ignoreDuration")
    count = _int_or_none(details, "ignoreCount")
    user_count = _int_or_none(details, "ignoreUserCount")
    if data.get("substatus") == "archived_forever":
        return state.ArchiveCondition(forever=True)
    if duration or count or user_count:
        return state.ArchiveCondition(
            until=timezone.now() + timedelta(minutes=duration) if duration else None,
            count=count,
            window=_int_or_none(details, "ignoreWindow"),
            user_count=user_count,
            user_window=_int_or_none(details, "ignoreUserWindow"),
        )
    if details.get("ignoreUntilEscalating") or data.get("substatus") == "archived_until_escalating":
        return state.ArchiveCondition()
    # A bare "ignored" is archived forever, as in Sentry.
    return state.ArchiveCondition(forever=True)


def _validate(data: dict[str, Any], project: Project) -> None:
    """Every field checked before anything changes (a bad request changes nothing)."""
    status = data.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"Invalid status: {status!r}")
    if data.get("substatus") is not None and data["substatus"] not in SUBSTATUSES:
        raise BadRequest(f"Invalid substatus: {data['substatus']!r}")
    details = data.get("statusDetails")
    if details is not None and not isinstance(details, dict):
        raise BadRequest("Invalid statusDetails: an object")
    if status == "resolved" and isinstance(details, dict) and "inRelease" in details:
        version = details["inRelease"]
        if version != "latest" and not project.releases.filter(version=version).exists():
            raise BadRequest(f"Unknown release: {version!r}")
    if status in ("ignored", "muted"):
        _archive_condition(data)
    if "priority" in data and data["priority"] not in {p.label for p in Priority}:
        raise BadRequest("Invalid priority: low, medium or high")
    for flag in ("hasSeen", "isBookmarked", "isSubscribed", "merge"):
        if flag in data and not isinstance(data[flag], bool | int):
            raise BadRequest(f"Invalid {flag}: true or false")
    actor = data.get("assignedTo")
    if actor and (not isinstance(actor, str) or actions.find_assignee(project, actor) is None):
        raise BadRequest(
            "Invalid assignedTo: not a member of the organization or a team of the project"
        )


def apply_update(issue: Issue, data: dict[str, Any], user: User) -> dict[str, Any]:
    """Change one issue as asked (already validated); return what changed (Sentry's delta)."""
    delta: dict[str, Any] = {}
    status = data.get("status")
    details = data.get("statusDetails") if isinstance(data.get("statusDetails"), dict) else {}
    assert isinstance(details, dict)
    if status == "resolved" and details.get("inRelease"):
        version = str(details["inRelease"])
        if version == "latest":
            version = state.latest_release(issue) or ""
        if version:
            state.resolve_in_release(issue, version, user)
        else:
            state.resolve(issue, user)
    elif status == "resolvedInNextRelease" or (
        status == "resolved" and details.get("inNextRelease")
    ):
        state.resolve_in_next_release(issue, user)
    elif status == "resolved":
        state.resolve(issue, user)
    elif status == "unresolved":
        state.reopen(issue, user)
    elif status in ("ignored", "muted"):
        state.archive(issue, _archive_condition(data), user)
    if status is not None:
        issue.refresh_from_db()
        delta.update(
            status=Status(issue.status).label,
            substatus=issue.get_substatus_display() if issue.substatus else None,
            statusDetails=status_details(issue),
            inbox=None,
        )
    if "assignedTo" in data:
        actor = data["assignedTo"]
        if actor:
            to = actions.find_assignee(issue.project, str(actor))
            assert to is not None
            actions.assign(issue, to, user)
        else:
            actions.unassign(issue, user)
        delta["assignedTo"] = serialize_assignee(actions.assignee_of(issue))
    if "hasSeen" in data:
        actions.mark_seen(issue, user, bool(data["hasSeen"]))
        delta["hasSeen"] = bool(data["hasSeen"])
    if "isBookmarked" in data:
        actions.bookmark(issue, user, bool(data["isBookmarked"]))
        delta["isBookmarked"] = bool(data["isBookmarked"])
    if "isSubscribed" in data:
        actions.subscribe(issue, user, bool(data["isSubscribed"]))
        delta["isSubscribed"] = bool(data["isSubscribed"])
        delta["subscriptionDetails"] = {"reason": "unknown"} if data["isSubscribed"] else None
    if "priority" in data:
        priority = next(p for p in Priority if p.label == data["priority"])
        state.set_priority(issue, priority, user)
        delta["priority"] = priority.label
    return delta


def current_fields(issue: Issue, user: User) -> dict[str, Any]:
    """The triage fields of the issue as the user sees them (over the read serializer's)."""
    return {
        "statusDetails": status_details(issue),
        "assignedTo": serialize_assignee(actions.assignee_of(issue)),
        "isBookmarked": actions.is_bookmarked(issue, user),
        "isSubscribed": actions.is_subscribed(issue, user),
        "hasSeen": actions.has_seen(issue, user),
        "numComments": issue.activities.filter(kind=actions.NOTE).count(),
    }


# -- one issue ---------------------------------------------------------------------------------
@router.put("/issues/{issue_id}/", response={200: dict[str, Any]})
def update_issue(request: HttpRequest, issue_id: str) -> HttpResponse:
    """Update one issue (Sentry's group details PUT): the issue with the changes."""
    _require(request, "write")
    user = signed_in_user(request)
    issue = visible_issue(user, issue_id)
    data = _body(request)
    _validate(data, issue.project)
    delta = apply_update(issue, data, user)
    issue.refresh_from_db()
    body = serialize_issue_detail(issue)
    body.update(current_fields(issue, user))
    body.update(delta)
    return json_response(body)


@router.delete("/issues/{issue_id}/", response={202: None})
def delete_issue(request: HttpRequest, issue_id: str) -> HttpResponse:
    _require(request, "admin")
    issue = visible_issue(signed_in_user(request), issue_id)
    actions.delete([issue])
    return HttpResponse(status=202)


# -- several issues of a project ---------------------------------------------------------------
def _selected(request: HttpRequest, project: Project, user: User) -> list[Issue]:
    ids = request.GET.getlist("id")
    if ids:
        if len(ids) > MAX_BULK or not all(i.isascii() and i.isdigit() and len(i) < 19 for i in ids):
            raise BadRequest("Invalid id: issue ids, at most 1000")
        # Another project's or organization's ids are simply not found here.
        return list(Issue.objects.filter(project=project, id__in=[int(i) for i in ids]))
    text = request.GET.get("query", "is:unresolved")[:10_000]
    now = timezone.now()
    try:
        ast = parse(text, now=now, scope=Scope.ISSUE)
        found = issue_queryset(ast, project_ids=[project.id], user=user, now=now)
    except SearchSyntaxError as exc:
        raise BadRequest(f"Invalid query: {exc}") from exc
    return list(found.filter(project=project).order_by("-last_seen", "-id")[:MAX_BULK])


@router.put("/projects/{org}/{project}/issues/", response={200: dict[str, Any]})
def bulk_update(request: HttpRequest, org: str, project: str) -> HttpResponse:
    """Update the selected issues of a project: the delta (Sentry's bulk mutate), or 204
    when none matched."""
    _require(request, "write")
    _slugs(org, project)
    found, _member = get_project(request, org, project)
    user = signed_in_user(request)
    data = _body(request)
    _validate(data, found)
    issues = _selected(request, found, user)
    if not issues:
        return HttpResponse(status=204)
    for issue in issues:
        issue.project = found
    if data.get("merge"):
        if len(issues) < 2:
            raise BadRequest("Merging needs two or more issues")
        try:
            target = actions.merge(issues, user)
        except ActionError as exc:
            raise BadRequest(str(exc)) from exc
        children = [str(i.id) for i in issues if i.id != target.id]
        return json_response({"merge": {"parent": str(target.id), "children": children}})
    delta: dict[str, Any] = {}
    for issue in issues:
        delta = apply_update(issue, data, user)
    return json_response(delta)


@router.delete("/projects/{org}/{project}/issues/", response={204: None})
def bulk_delete(request: HttpRequest, org: str, project: str) -> HttpResponse:
    _require(request, "admin")
    _slugs(org, project)
    found, _member = get_project(request, org, project)
    if not request.GET.getlist("id"):
        raise BadRequest("Deleting issues needs their ids (?id=…)")
    issues = _selected(request, found, signed_in_user(request))
    actions.delete(issues)
    return HttpResponse(status=204)


# -- comments ------------------------------------------------------------------------------------
@router.get("/issues/{issue_id}/comments/", response={200: list[dict[str, Any]]})
def list_comments(request: HttpRequest, issue_id: str) -> HttpResponse:
    """The issue's comments, newest first."""
    issue = visible_issue(signed_in_user(request), issue_id)
    notes = issue.activities.filter(kind=actions.NOTE).select_related("user")
    return json_response([serialize_note(n) for n in notes.order_by("-created_at", "-id")[:1000]])


def _text(data: dict[str, Any]) -> str:
    text = data.get("text")
    if not isinstance(text, str):
        raise BadRequest("Invalid text: a string")
    return text


@router.post("/issues/{issue_id}/comments/", response={201: dict[str, Any]})
def add_comment(request: HttpRequest, issue_id: str) -> HttpResponse:
    _require(request, "write")
    user = signed_in_user(request)
    issue = visible_issue(user, issue_id)
    try:
        note = actions.comment(issue, user, _text(_body(request)))
    except ActionError as exc:
        raise BadRequest(str(exc)) from exc
    return json_response(serialize_note(note), status=201)


def _note_id(note_id: str) -> int:
    if not (note_id.isascii() and note_id.isdigit()) or len(note_id) > 18:
        raise Http404("No such comment")
    return int(note_id)


@router.put("/issues/{issue_id}/comments/{note_id}/", response={200: dict[str, Any]})
def edit_comment(request: HttpRequest, issue_id: str, note_id: str) -> HttpResponse:
    """Edit one's own comment (someone else's is a 404)."""
    _require(request, "write")
    user = signed_in_user(request)
    issue = visible_issue(user, issue_id)
    number, text = _note_id(note_id), _text(_body(request))
    try:
        actions.own_comment(issue, user, number)
    except ActionError as exc:
        raise Http404("No such comment") from exc
    try:
        note = actions.edit_comment(issue, user, number, text)
    except ActionError as exc:
        raise BadRequest(str(exc)) from exc
    return json_response(serialize_note(note))


@router.delete("/issues/{issue_id}/comments/{note_id}/", response={204: None})
def delete_comment(request: HttpRequest, issue_id: str, note_id: str) -> HttpResponse:
    _require(request, "write")
    user = signed_in_user(request)
    issue = visible_issue(user, issue_id)
    try:
        actions.delete_comment(issue, user, _note_id(note_id))
    except ActionError as exc:
        raise Http404("No such comment") from exc
    return HttpResponse(status=204)
