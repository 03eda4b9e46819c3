"""Event endpoints of /api/0/ for one issue, in Sentry's shapes:

- ``GET /issues/{id}/events/?query=&cursor=&limit=``: the issue's events, newest first, in
  Sentry's short form (id, eventID, groupID, title, message, dateCreated, platform, tags as
  ``[{key, value}]``, user).
- ``GET /issues/{id}/events/latest/`` (and ``oldest/``): one event in full: the stored event
  JSON (contexts, sdk, request, exception, breadcrumbs, extra… as normalized at ingest) with
  Sentry's API fields added (id, eventID, groupID, projectID, dateCreated, dateReceived,
  title, message, tags as ``[{key, value}]``, user) and ``entries`` built from the
  interfaces present: exception, message, request, breadcrumbs, threads.

The events list's ``query`` is the event query of ``events/query.py``: free text and the
event's column keys; other keys (tags among them) answer 400 for now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router

from spyglass.events.bodies import read_body
from spyglass.events.models import Event
from spyglass.events.query import MAX_QUERY_LENGTH, filter_events
from spyglass.issues.api import iso, visible_issue
from spyglass.lib.restapi import (
    BadRequest,
    Cursor,
    add_headers,
    json_response,
    paginate_keyset,
    parse_limit,
)
from spyglass.projects.access import signed_in_user
from spyglass.search import SearchSyntaxError

router = Router(tags=["events"])

USER_FIELDS = {"id": "id", "email": "email", "username": "username", "ip": "ip_address"}


# --- serialization ----------------------------------------------------------------------------


def event_user(user_key: str) -> dict[str, Any] | None:
    """Sentry's user object from the event's user key (``id:…``, ``email:…``, …)."""
    kind, _, value = user_key.partition(":")
    if not value or kind not in USER_FIELDS:
        return None
    user: dict[str, Any] = {
        "id": None,
        "email": None,
        "username": None,
        "ip_address": None,
        "name": None,
        "data": None,
    }
    user[USER_FIELDS[kind]] = value
    return user


def _tags(tags: Any) -> list[dict[str, str]]:
    pairs = tags if isinstance(tags, list) else []
    return [
        {"key": str(pair[0]), "value": str(pair[1])}
        for pair in pairs
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]


def serialize_event(event: Event) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "eventID": event.event_id,
        "groupID": str(event.issue_id),
        "projectID": str(event.project_id),
        "title": event.title,
        "message": event.message,
        "culprit": event.culprit,
        "location": event.culprit or None,
        "dateCreated": iso(event.timestamp),
        "platform": event.platform or None,
        "event.type": event.type,
        "tags": _tags(event.tags),
        "user": event_user(event.user_key),
    }


def _entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    exception = body.get("exception")
    if isinstance(exception, dict) and exception.get("values"):
        entries.append({"type": "exception", "data": {"values": exception["values"]}})
    logentry = body.get("logentry")
    if isinstance(logentry, dict) and (logentry.get("formatted") or logentry.get("message")):
        entries.append({"type": "message", "data": logentry})
    threads = body.get("threads")
    if isinstance(threads, dict) and threads.get("values"):
        entries.append({"type": "threads", "data": {"values": threads["values"]}})
    request = body.get("request")
    if isinstance(request, dict) and request:
        entries.append({"type": "request", "data": request})
    breadcrumbs = body.get("breadcrumbs")
    if isinstance(breadcrumbs, dict) and breadcrumbs.get("values"):
        entries.append({"type": "breadcrumbs", "data": {"values": breadcrumbs["values"]}})
    return entries


def serialize_event_detail(event: Event) -> dict[str, Any]:
    body = read_body(event.body)
    data: dict[str, Any] = dict(body)
    data.update(serialize_event(event))
    data.update(
        dateReceived=iso(event.received_at),
        size=event.size,
        entries=_entries(body),
        contexts=body.get("contexts") or {},
        sdk=body.get("sdk"),
        context=body.get("extra") or {},
        fingerprints=[event.primary_hash] if event.primary_hash else [],
    )
    return data


# --- endpoints ------------------------------------------------------------------------------


def _events(request: HttpRequest, issue_id: str) -> QuerySet[Event]:
    issue = visible_issue(signed_in_user(request), issue_id)
    return Event.objects.filter(issue=issue)


@router.get("/issues/{issue_id}/events/", response={200: list[dict[str, Any]]})
def issue_events(
    request: HttpRequest,
    issue_id: str,
    query: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> HttpResponse:
    """An issue's events, newest first."""
    events = _events(request, issue_id).defer("body")
    page_cursor, page_limit = Cursor.parse(cursor), parse_limit(limit)
    text = query or ""
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(f"The query is longer than {MAX_QUERY_LENGTH} characters")
    try:
        events = filter_events(events, text)
    except SearchSyntaxError as exc:
        raise BadRequest(
            f"Error parsing search query: {exc.message} (at position {exc.position})"
        ) from None
    page = paginate_keyset(events, page_cursor, page_limit, "timestamp")
    response = json_response([serialize_event(event) for event in page.items])
    add_headers(request, response, page)
    return response


def _one(
    request: HttpRequest, issue_id: str, order: Callable[[QuerySet[Event]], QuerySet[Event]]
) -> dict[str, Any]:
    event = order(_events(request, issue_id)).first()
    if event is None:
        raise Http404("No events")
    return serialize_event_detail(event)


@router.get("/issues/{issue_id}/events/latest/", response={200: dict[str, Any]})
def latest_event(request: HttpRequest, issue_id: str) -> dict[str, Any]:
    """The issue's newest event in full."""
    return _one(request, issue_id, lambda qs: qs.order_by("-timestamp", "-id"))


@router.get("/issues/{issue_id}/events/oldest/", response={200: dict[str, Any]})
def oldest_event(request: HttpRequest, issue_id: str) -> dict[str, Any]:
    """The issue's first event in full."""
    return _one(request, issue_id, lambda qs: qs.order_by("timestamp", "id"))
