"""A performance issue's occurrences where an error issue has events: the one shown on the
issue page (the latest, or ``?occurrence=<transaction event id>``) with the links to the
older and newer ones, and the issue's list of occurrences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from spyglass.issues.models import Category, Issue
from spyglass.perfissues.models import Occurrence
from spyglass.performance.models import Transaction
from spyglass.projects.models import Project

PER_PAGE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def occurrence_context(issue: Issue, wanted: str) -> dict[str, Any] | None:
    """For a performance issue, the occurrence to show (404 for an unknown id), its stored
    transaction (None once retention removed it) and the navigation; None for other issues."""
    if issue.category != Category.PERFORMANCE:
        return None
    rows = Occurrence.objects.filter(issue=issue)
    if wanted:
        occurrence = rows.filter(transaction_event_id=wanted[:32]).first()
        if occurrence is None:
            raise Http404("No such occurrence")
    else:
        occurrence = rows.order_by("-timestamp", "-id").first()
    if occurrence is None:
        return {"occurrence": None, "transaction": None, "nav": {}}
    transaction = (
        Transaction.objects.filter(
            project_id=issue.project_id, event_id=occurrence.transaction_event_id
        )
        .defer("body")
        .first()
    )
    return {
        "occurrence": occurrence,
        "transaction": transaction,
        "nav": _navigation(issue, occurrence),
    }


def _navigation(issue: Issue, current: Occurrence) -> dict[str, str | None]:
    """Transaction event ids of the oldest, older and newer occurrences (timestamp, id)."""
    rows = Occurrence.objects.filter(issue=issue)
    same = Q(timestamp=current.timestamp)
    older = rows.filter(Q(timestamp__lt=current.timestamp) | same & Q(id__lt=current.id))
    newer = rows.filter(Q(timestamp__gt=current.timestamp) | same & Q(id__gt=current.id))
    ids = "transaction_event_id"
    before = older.order_by("-timestamp", "-id").values_list(ids, flat=True).first()
    after = newer.order_by("timestamp", "id").values_list(ids, flat=True).first()
    oldest = rows.order_by("timestamp", "id").values_list(ids, flat=True).first()
    latest = rows.order_by("-timestamp", "-id").values_list(ids, flat=True).first()
    return {
        "older": before,
        "newer": after,
        "oldest": oldest if before else None,
        "latest": latest if after else None,
    }


def _cursor(occurrence: Occurrence) -> str:
    micros = (occurrence.timestamp - EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{occurrence.id}"


def _after(cursor: str) -> Q | None:
    micros, _, pk = cursor.partition(".")
    try:
        at, last = EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except (ValueError, OverflowError):
        return None
    return Q(timestamp__lte=at) & (Q(timestamp__lt=at) | Q(id__lt=last))


def occurrences_page(request: HttpRequest, project: Project, issue: Issue) -> HttpResponse:
    """The issue's occurrences, newest first, 50 a page by (timestamp, id): the caller has
    resolved the project (access) and the issue."""
    rows = Occurrence.objects.filter(issue=issue).defer("evidence")
    after = _after(request.GET.get("cursor", ""))
    if after is not None:
        rows = rows.filter(after)
    found = list(rows.order_by("-timestamp", "-id")[: PER_PAGE + 1])
    more = len(found) > PER_PAGE
    found = found[:PER_PAGE]
    return render(
        request,
        "perfissues/occurrences.html",
        {
            "organization": project.organization,
            "project": project,
            "issue": issue,
            "occurrences": found,
            "paged": after is not None,
            "next_cursor": _cursor(found[-1]) if more else None,
        },
    )
