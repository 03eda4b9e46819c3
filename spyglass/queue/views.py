"""The queue status page in the admin: depth, age, throughput and the set-aside envelopes.

Registered by ``QueuedEnvelopeAdmin.get_urls`` (``/admin/queue/queuedenvelope/status/``), so
the admin's login and staff check run first; the model admin's permissions decide the rest:
view to see the page, change to retry, delete to discard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from spyglass.projects.models import Project
from spyglass.queue import dead_letters
from spyglass.queue.dead_letters import DeadLetter
from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.stats import queue_stats

log = logging.getLogger(__name__)

PAGE_SIZE = 50
TEMPLATE = "admin/queue/queuedenvelope/status.html"
CONFIRM_TEMPLATE = "admin/queue/queuedenvelope/status_confirm_discard.html"


@dataclass(frozen=True)
class Row:
    letter: DeadLetter
    project: str
    project_url: str | None


@dataclass(frozen=True)
class Action:
    verb: str  # "retry" or "discard"
    ids: list[int] | None  # None: every set-aside envelope
    value: str  # the button's value, to post again from the confirmation page


def age_text(seconds: float | None) -> str:
    """A short, human age: "4.2 s", "3 min 5 s", "2 h 7 min", "3 d 4 h"."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60)):
        if whole >= size:
            return f"{whole // size} {unit} {whole % size // sub_size} {sub}"
    return f"{whole // 60} min {whole % 60} s"


def status_page(request: HttpRequest, model_admin: ModelAdmin[QueuedEnvelope]) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if request.method == "POST":
        return _act(request, model_admin)
    return _render(request, model_admin)


def _parse(request: HttpRequest) -> Action | None:
    """`retry:all`, `retry:selected` (the `id` checkboxes) or `retry:<id>`; same for discard."""
    value = request.POST.get("action", "")
    verb, _, target = value.partition(":")
    if verb not in ("retry", "discard"):
        return None
    if target == "all":
        return Action(verb, None, value)
    raw = request.POST.getlist("id") if target == "selected" else [target]
    if not all(item.isdigit() for item in raw):
        return None
    return Action(verb, [int(item) for item in raw], value)


def _act(request: HttpRequest, model_admin: ModelAdmin[QueuedEnvelope]) -> HttpResponse:
    action = _parse(request)
    if action is None:
        return HttpResponseBadRequest("unknown action")
    allowed = (
        model_admin.has_change_permission(request)
        if action.verb == "retry"
        else model_admin.has_delete_permission(request)
    )
    if not allowed:
        raise PermissionDenied
    back = HttpResponseRedirect(request.get_full_path())
    if action.ids == []:
        messages.warning(request, "No envelopes were selected: nothing changed.")
        return back
    if action.verb == "discard" and request.POST.get("confirmed") != "yes":
        return _confirm_discard(request, model_admin, action)
    done = (dead_letters.retry if action.verb == "retry" else dead_letters.discard)(action.ids)
    log.info("%s: %s %d set-aside envelopes", request.user, action.verb, done)
    noun = "envelope" if done == 1 else "envelopes"
    if action.verb == "retry":
        messages.success(request, f"{done} {noun} sent back to the queue, attempts reset.")
    else:
        messages.success(request, f"{done} set-aside {noun} discarded.")
    missed = 0 if action.ids is None else len(set(action.ids)) - done
    if missed:
        messages.warning(
            request, f"{missed} of the selected envelopes were no longer set aside: left alone."
        )
    return back


def _confirm_discard(
    request: HttpRequest, model_admin: ModelAdmin[QueuedEnvelope], action: Action
) -> HttpResponse:
    rows = dead_letters.failed()
    if action.ids is not None:
        rows = rows.filter(id__in=action.ids)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Discard set-aside envelopes?",
        "action": action,
        "count": rows.count(),
        "sample": _rows(dead_letters.as_dead_letters(rows[:20])),
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def _project_labels(project_ids: set[int]) -> dict[int, tuple[str, str | None]]:
    labels: dict[int, tuple[str, str | None]] = {}
    # The queue may live in another database: look the projects up separately.
    for project in Project.objects.filter(id__in=project_ids).select_related("organization"):
        try:
            url: str | None = reverse("admin:projects_project_change", args=[project.id])
        except NoReverseMatch:
            url = None
        labels[project.id] = (str(project), url)
    return labels


def _rows(letters: list[DeadLetter]) -> list[Row]:
    labels = _project_labels({letter.project_id for letter in letters})
    return [
        Row(letter, *labels.get(letter.project_id, (f"#{letter.project_id} (deleted)", None)))
        for letter in letters
    ]


def _render(request: HttpRequest, model_admin: ModelAdmin[QueuedEnvelope]) -> HttpResponse:
    stats = queue_stats()
    page = Paginator(dead_letters.failed(), PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Queue status",
        "stats": stats,
        "waiting": stats["depth"] - stats["claimed"],
        "oldest_age": age_text(stats["oldest_age_seconds"]),
        "page": page,
        "rows": _rows(dead_letters.as_dead_letters(page.object_list)),
        "can_retry": model_admin.has_change_permission(request),
        "can_discard": model_admin.has_delete_permission(request),
        "max_attempts": settings.QUEUE_MAX_ATTEMPTS,
        "max_depth": f"{settings.QUEUE_MAX_DEPTH:,}",
    }
    return TemplateResponse(request, TEMPLATE, context)
