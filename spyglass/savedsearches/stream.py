"""What the issue stream shows of saved and recent searches, and its pinned default.

The stream's view calls `search_context` once per page (it records the search as recent
when it ran without error) and `default_search_redirect` when opened without a query."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from spyglass.accounts.models import User
from spyglass.projects.access import can_write
from spyglass.projects.models import Member, Organization, Project
from spyglass.savedsearches.models import MAX_QUERY, RECENT_KEPT, RecentSearch, SavedSearch


def visible_searches(member: Member) -> list[SavedSearch]:
    """The member's own saved searches and the organization's shared ones, by name."""
    return list(
        SavedSearch.objects.filter(organization=member.organization)
        .filter(Q(owner=member.user) | Q(owner__isnull=True))
        .order_by("owner_id", "name", "id")
    )


def default_search(member: Member) -> SavedSearch | None:
    """The user's pinned search, else the organization's."""
    pinned = [s for s in visible_searches(member) if s.is_default]
    own = [s for s in pinned if not s.shared]
    chosen = own or pinned
    return chosen[0] if chosen else None


def record_recent(member: Member, text: str) -> None:
    """Remember a search the user ran (the newest ten per organization are kept)."""
    text = text.strip()[:MAX_QUERY]
    if not text:
        return
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    now = timezone.now()
    RecentSearch.objects.update_or_create(
        organization=member.organization,
        user=member.user,
        query_hash=digest,
        defaults={"query": text, "last_used": now},
    )
    rows = RecentSearch.objects.filter(organization=member.organization, user=member.user)
    stale = rows.order_by("-last_used", "-id").values_list("id", flat=True)[RECENT_KEPT:]
    ids = list(stale)
    if ids:
        RecentSearch.objects.filter(id__in=ids).delete()


def recent_searches(member: Member) -> list[str]:
    rows = RecentSearch.objects.filter(organization=member.organization, user=member.user)
    return list(rows.order_by("-last_used", "-id").values_list("query", flat=True)[:RECENT_KEPT])


def _member(request: HttpRequest, project: Project | Organization) -> Member | None:
    """The signed-in user's membership of the project's organization (or of the
    organization itself, for the organization's stream)."""
    user = request.user
    if not isinstance(user, User):
        return None
    org_id = project.pk if isinstance(project, Organization) else project.organization_id
    return Member.objects.filter(organization_id=org_id, user=user).first()


def search_context(
    request: HttpRequest, project: Project | Organization, text: str, *, ran: bool
) -> dict[str, Any]:
    """The search box's context: saved searches (own and shared, with the pinned one), recent
    searches, whether the user may share a search. `ran`: the search ran without an error,
    so it becomes a recent search."""
    member = _member(request, project)
    if member is None:
        return {}
    if ran and text.strip():
        record_recent(member, text)
    searches = visible_searches(member)
    return {
        "saved_searches": searches,
        "recent_searches": recent_searches(member),
        "can_share_searches": can_write(member),
        "current_saved_search": next((s for s in searches if s.query == text), None),
    }


def default_search_redirect(request: HttpRequest, project: Project | Organization) -> str | None:
    """Where the stream goes when opened without any parameter and a search is pinned: the
    same page with the pinned query and sort. None otherwise."""
    if request.GET:
        return None
    member = _member(request, project)
    pinned = default_search(member) if member is not None else None
    if pinned is None:
        return None
    params = {"query": pinned.query, "sort": pinned.sort}
    return request.path + "?" + urlencode({k: v for k, v in params.items() if v})
