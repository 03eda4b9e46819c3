"""Saving, deleting and pinning searches of the issue stream, and the search box's
autocomplete (keys, then the top values of the chosen key)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from spyglass.events import frames
from spyglass.events.models import IssueTagValue
from spyglass.issues.search import TAG_KEYS
from spyglass.projects.access import can_write, get_membership, get_project
from spyglass.projects.models import Member, Organization, Project, Team
from spyglass.savedsearches.models import MAX_QUERY, SavedSearch
from spyglass.search import KEYS, Scope, ValueType
from spyglass.search.keys import USER_KEY_PREFIXES, lookup
from spyglass.search.nodes import Key
from spyglass.search.parser import tag_key_name
from spyglass.search.render import render_key

MAX_NAME = 128
MAX_ITEMS = 12
DATES = ("-1h", "-24h", "-7d", "-14d", "-30d")
CACHE_SECONDS = 300
MAX_TAG_KEYS = 1000
CACHED_VALUES = 200


@dataclass(frozen=True)
class Searched:
    """What a search box searches: one project (its stream) or, with ``project`` None, all
    the organization's projects (the organization's stream)."""

    organization: Organization
    projects: tuple[Project, ...]
    project: Project | None

    @property
    def pk(self) -> str:
        """The cache key of the projects."""
        return ",".join(str(p.pk) for p in self.projects) or "-"


def _scope(
    request: HttpRequest, org_slug: str, project_slug: str | None
) -> tuple[Searched, Member]:
    """The searched projects and the member, or 404 (another organization's member too)."""
    if project_slug is not None:
        project, member = get_project(request, org_slug, project_slug)
        return Searched(project.organization, (project,), project), member
    member = get_membership(request, org_slug)
    projects = tuple(Project.objects.filter(organization=member.organization).order_by("id"))
    return Searched(member.organization, projects, None), member


def _stream(project: Searched, query: str = "", sort: str = "") -> str:
    if project.project is None:
        url = reverse("issues:organization_stream", args=[project.organization.slug])
    else:
        url = reverse("issues:stream", args=[project.organization.slug, project.project.slug])
    params = {k: v for k, v in {"query": query, "sort": sort}.items() if v}
    return url + ("?" + urlencode(params) if params else "")


def _search_of(project: Searched, member: Member, search_id: int) -> SavedSearch:
    """A saved search the member may change: their own, or a shared one when they may
    write; 404 otherwise (another user's search is as absent as a missing one)."""
    found = SavedSearch.objects.filter(pk=search_id, organization=project.organization).first()
    if found is None or (found.owner_id is not None and found.owner_id != member.user_id):
        raise Http404("No such search")
    if found.owner_id is None and not can_write(member):
        raise Http404("No such search")
    return found


@login_required
@require_POST
def save(request: HttpRequest, org_slug: str, project_slug: str | None = None) -> HttpResponse:
    project, member = _scope(request, org_slug, project_slug)
    query = request.POST.get("query", "").strip()[:MAX_QUERY]
    sort = request.POST.get("sort", "")[:16]
    name = request.POST.get("name", "").strip()[:MAX_NAME] or query[:MAX_NAME] or "All issues"
    shared = request.POST.get("shared") == "on" and can_write(member)
    SavedSearch.objects.create(
        organization=project.organization,
        owner=None if shared else member.user,
        name=name,
        query=query,
        sort=sort,
    )
    messages.success(request, f"Saved the search “{name}”.")
    return redirect(_stream(project, query, sort))


@login_required
@require_POST
def delete(
    request: HttpRequest, org_slug: str, search_id: int, project_slug: str | None = None
) -> HttpResponse:
    project, member = _scope(request, org_slug, project_slug)
    found = _search_of(project, member, search_id)
    found.delete()
    messages.success(request, f"Deleted the saved search “{found.name}”.")
    return redirect(_stream(project))


@login_required
@require_POST
def pin(
    request: HttpRequest, org_slug: str, search_id: int, project_slug: str | None = None
) -> HttpResponse:
    """Pin (or with ``unpin``, unpin) a saved search as the stream's default: a user's own
    search for them, a shared one for the whole organization."""
    project, member = _scope(request, org_slug, project_slug)
    found = _search_of(project, member, search_id)
    with transaction.atomic():
        peers = SavedSearch.objects.filter(organization=project.organization, is_default=True)
        peers = (
            peers.filter(owner__isnull=True) if found.shared else peers.filter(owner=member.user)
        )
        peers.update(is_default=False)
        if request.POST.get("unpin") != "1":
            found.is_default = True
            found.save(update_fields=["is_default"])
    return redirect(_stream(project, found.query, found.sort))


# --- autocomplete ---------------------------------------------------------------------------

ISSUE_KEYS = [spec for spec in KEYS if Scope.ISSUE in spec.scopes]


def _tag_rows(project: Searched) -> QuerySet[IssueTagValue]:
    if project.project is not None:
        return IssueTagValue.objects.filter(issue__project=project.project)
    return IssueTagValue.objects.filter(issue__project__in=[p.pk for p in project.projects])


def _key_items(project: Searched, prefix: str) -> list[dict[str, str]]:
    lowered = prefix.lower()
    items = [
        {"text": f"{spec.name}:", "label": spec.name, "detail": spec.doc}
        for spec in ISSUE_KEYS
        if spec.name.lower().startswith(lowered)
    ]
    known = {spec.name for spec in ISSUE_KEYS} | {"has"}
    if "has".startswith(lowered):
        items.append({"text": "has:", "label": "has", "detail": "The key has a value."})
    tags = [key for key in _project_tag_keys(project) if key.startswith(prefix)][:50]
    for tag in tags:
        if tag not in known and lookup(tag) is None:
            # a key with a space, quote or bracket is written tags["…"] (the parser's form)
            items.append(
                {"text": f"{render_key(Key(tag, tag=True))}:", "label": tag, "detail": "A tag."}
            )
    # registered keys that start with the prefix first, shortest first
    return items[:MAX_ITEMS] if len(items) <= MAX_ITEMS else _shortest(items)


def _shortest(items: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(items, key=lambda item: (len(item["label"]), item["label"]))[:MAX_ITEMS]


def _project_tag_keys(project: Searched) -> list[str]:
    """The project's tag keys, sorted; cached a few minutes per process (at a million events
    the scan takes a moment, and every keystroke asks)."""
    cache_key = f"savedsearches:tag-keys:{project.pk}"
    keys: list[str] | None = cache.get(cache_key)
    if keys is None:
        rows = _tag_rows(project).values_list("key", flat=True).distinct().order_by("key")
        keys = list(rows[:MAX_TAG_KEYS])
        cache.set(cache_key, keys, CACHE_SECONDS)
    return keys


def _top_values(project: Searched, tag: str, prefix: str, strip: str = "") -> list[str]:
    """The tag's values starting with ``prefix`` (after ``strip``), most events first. The
    top values of each key are cached a few minutes; a prefix they don't cover asks the
    database."""
    # hashed: a tag key may have spaces or characters memcached refuses in a key
    digest = hashlib.sha256(tag.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    cache_key = f"savedsearches:top:{project.pk}:{digest}"
    top: list[str] | None = cache.get(cache_key)
    if top is None:
        top = _query_top(project, tag, "", CACHED_VALUES)
        cache.set(cache_key, top, CACHE_SECONDS)
    found = [v[len(strip) :] for v in top if v.startswith(strip + prefix)][:MAX_ITEMS]
    if len(found) < MAX_ITEMS and len(top) >= CACHED_VALUES:
        found = [v[len(strip) :] for v in _query_top(project, tag, strip + prefix, MAX_ITEMS)]
    return found


def _query_top(project: Searched, tag: str, prefix: str, limit: int) -> list[str]:
    rows = (
        _tag_rows(project)
        .filter(key=tag, value__startswith=prefix)
        .values("value")
        .annotate(n=Sum("times_seen"))
        .order_by("-n", "value")[:limit]
    )
    return [row["value"] for row in rows]


def _actors(project: Searched, member: Member, prefix: str, *, teams: bool) -> list[str]:
    values = ["me"] + (["my_teams", "none"] if teams else [])
    if teams:
        slugs = Team.objects.filter(organization=project.organization).values_list(
            "slug", flat=True
        )
        values += [f"#{slug}" for slug in slugs.order_by("slug")[:50]]
    emails = Member.objects.filter(organization=project.organization).values_list(
        "user__email", flat=True
    )
    values += list(emails.order_by("user__email")[:50])
    return [v for v in values if v.lower().startswith(prefix.lower())]


def _value_items(project: Searched, member: Member, key: str, prefix: str) -> list[str]:
    if key == "has":
        return [item["label"] for item in _key_items(project, prefix)]
    spec = lookup(key)
    if spec is None:
        return _top_values(project, key, prefix)
    if spec.type == ValueType.ENUM:
        return [c for c in spec.choices if c.startswith(prefix.lower())]
    if spec.type == ValueType.BOOLEAN:
        return [v for v in ("true", "false") if v.startswith(prefix.lower())]
    if spec.type == ValueType.DATE:
        return [v for v in DATES if v.startswith(prefix)]
    if spec.type in (ValueType.ACTOR, ValueType.USER):
        return _actors(project, member, prefix, teams=spec.type == ValueType.ACTOR)
    if spec.name in ("release", "firstRelease"):
        latest = ["latest"] if "latest".startswith(prefix) else []
        return latest + _top_values(project, "release", prefix)
    if spec.name in TAG_KEYS:
        return _top_values(project, TAG_KEYS[spec.name], prefix)
    if spec.name in USER_KEY_PREFIXES:
        return _top_values(project, "user", prefix, strip=USER_KEY_PREFIXES[spec.name])
    if spec.name in frames.KEY_FIELDS:
        return frames.suggestions([p.pk for p in project.projects], spec.name, prefix, MAX_ITEMS)
    return []


def _key_text(name: str) -> str:
    """A key as the search language reads it back (a tag's with a space: ``tags["a b"]``)."""
    return name if lookup(name) is not None else render_key(Key(name, tag=True))


def quoted(value: str) -> str:
    """A value as the search language reads it back: quoted when it has spaces, quotes,
    parentheses or wildcards (escaped)."""
    if value and not any(c in value for c in ' \t"()*\\[],'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*")
    return f'"{escaped}"'


@login_required
@require_GET
def autocomplete(
    request: HttpRequest, org_slug: str, project_slug: str | None = None
) -> JsonResponse:
    """``?term=<the word at the caret>``: keys when it has no colon yet, else values of
    its key (``level:err`` → ``level:error``). Items: ``text`` to put in place of the word,
    ``label`` and ``detail`` to show."""
    project, member = _scope(request, org_slug, project_slug)
    term = request.GET.get("term", "")[:200]
    negated = term.startswith("!")
    body = term[1:] if negated else term
    bang = "!" if negated else ""
    items: list[dict[str, Any]]
    if ":" not in body:
        items = [{**item, "text": bang + item["text"]} for item in _key_items(project, body)]
        return JsonResponse({"kind": "keys", "items": items})
    key, _, prefix = body.partition(":")
    prefix = prefix.strip('"')
    written = tag_key_name(key) or key
    values = _value_items(project, member, written, prefix)[:MAX_ITEMS]
    items = [
        {
            "text": f"{bang}{key}:{quoted(v)} " if key != "has" else f"{bang}has:{_key_text(v)} ",
            "label": v,
        }
        for v in values
    ]
    return JsonResponse({"kind": "values", "key": key, "items": items})
