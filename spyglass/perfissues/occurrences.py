"""A performance issue's occurrences where an error issue has events: the one shown on the
issue page (the latest, or ``?occurrence=<transaction event id>``) with the links to the
older and newer ones, and the issue's list of occurrences."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from spyglass.issues.models import Category, Issue
from spyglass.lib import keyset
from spyglass.perfissues.models import Occurrence
from spyglass.performance.models import Transaction
from spyglass.projects.models import Project

PER_PAGE = 50


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
    """Transaction event ids of the oldest, older, newer and latest occurrences."""
    rows = Occurrence.objects.filter(issue=issue)
    field = "transaction_event_id"
    return keyset.neighbours(rows, current.timestamp, current.id, field, latest=True)


def occurrences_page(request: HttpRequest, project: Project, issue: Issue) -> HttpResponse:
    """The issue's occurrences, newest first, 50 a page by (timestamp, id): the caller has
    resolved the project (access) and the issue."""
    rows = Occurrence.objects.filter(issue=issue).defer("evidence")
    after = keyset.after(request.GET.get("cursor", ""))
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
            "next_cursor": keyset.cursor(found[-1].timestamp, found[-1].id) if more else None,
        },
    )
