"""An organization's settings: members, teams, projects.

Members see every page read-only. Owners and managers add, change and remove members (only
an owner grants or takes away the owner role, and the last owner stays); owners, managers and
admins manage teams and projects. Ids in a path are looked up inside the organization, so a
guessed id of another organization is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from spyglass.projects.access import can_manage_members, can_write, get_membership, require_write
from spyglass.projects.forms import AddMemberForm, NewProjectForm, TeamForm
from spyglass.projects.models import Member, Project, Role, Team

SECTIONS = [
    ("members", "Members", "projects:org_settings_members"),
    ("teams", "Teams", "projects:org_settings_teams"),
    ("projects", "Projects", "projects:org_settings_projects"),
    ("channels", "Channels", "notifications:channels"),  # spyglass/notifications/views.py
]


def _render(
    request: HttpRequest, member: Member, section: str, template: str, context: dict[str, Any]
) -> HttpResponse:
    org = member.organization
    nav = [
        {"label": label, "url": reverse(name, args=(org.slug,)), "current": key == section}
        for key, label, name in SECTIONS
    ]
    return render(
        request,
        template,
        {
            "organization": org,
            "member": member,
            "can_write": can_write(member),
            "can_manage_members": can_manage_members(member),
            "settings_nav": nav,
            "settings_title": f"{org.name} settings",
            **context,
        },
    )


@login_required
def index(request: HttpRequest, org_slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    return redirect("projects:org_settings_members", member.organization.slug)


# --- members ------------------------------------------------------------------------------


def _require_member_admin(member: Member) -> None:
    if not can_manage_members(member):
        raise PermissionDenied("Only owners and managers change members.")


@login_required
def members(request: HttpRequest, org_slug: str) -> HttpResponse:
    me = get_membership(request, org_slug)
    org = me.organization
    form = AddMemberForm(org, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        _require_member_admin(me)
        if form.is_valid():
            role = form.cleaned_data["role"]
            if role == Role.OWNER and me.role != Role.OWNER:
                form.add_error("role", "Only an owner makes someone an owner.")
            else:
                user = form.user()
                Member.objects.create(organization=org, user=user, role=role)
                messages.success(request, f"{user.email} is now a member ({role}).")
                return redirect("projects:org_settings_members", org.slug)
    rows = Member.objects.filter(organization=org).select_related("user").order_by("user__email")
    return _render(
        request,
        me,
        "members",
        "projects/org_settings/members.html",
        {"rows": rows, "form": form, "roles": Role.choices},
    )


def _other_member(me: Member, member_id: int) -> Member:
    found = (
        Member.objects.select_for_update()
        .select_related("user")
        .filter(organization=me.organization, pk=member_id)
        .first()
    )
    if found is None:
        raise Http404("No such member")
    return found


def _is_last_owner(member: Member) -> bool:
    return (
        member.role == Role.OWNER
        and Member.objects.filter(organization=member.organization_id, role=Role.OWNER).count() <= 1
    )


@login_required
@require_POST
def member_role(request: HttpRequest, org_slug: str, member_id: int) -> HttpResponse:
    me = get_membership(request, org_slug)
    with transaction.atomic():
        target = _other_member(me, member_id)
        _require_member_admin(me)
        role = request.POST.get("role", "")
        if role not in Role.values:
            messages.error(request, "Choose one of the roles.")
        elif Role.OWNER in (role, target.role) and me.role != Role.OWNER:
            messages.error(request, "Only an owner grants or takes away the owner role.")
        elif role != Role.OWNER and _is_last_owner(target):
            messages.error(request, "The last owner stays an owner: make someone else one first.")
        else:
            target.role = role
            target.save(update_fields=["role"])
            messages.success(request, f"{target.user.email} is now {Role(role).label.lower()}.")
    return redirect("projects:org_settings_members", me.organization.slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, org_slug: str, member_id: int) -> HttpResponse:
    me = get_membership(request, org_slug)
    with transaction.atomic():
        target = _other_member(me, member_id)
        _require_member_admin(me)
        if target.role == Role.OWNER and me.role != Role.OWNER:
            messages.error(request, "Only an owner removes an owner.")
        elif _is_last_owner(target):
            messages.error(request, "The last owner can't be removed: make someone else one first.")
        else:
            target.delete()
            messages.success(request, f"{target.user.email} is no longer a member.")
    if target.pk == me.pk and not Member.objects.filter(pk=me.pk).exists():
        return redirect("projects:home")
    return redirect("projects:org_settings_members", me.organization.slug)


# --- teams --------------------------------------------------------------------------------


@login_required
def teams(request: HttpRequest, org_slug: str) -> HttpResponse:
    me = get_membership(request, org_slug)
    org = me.organization
    form = TeamForm(org, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require_write(me)
        if form.is_valid():
            name = form.cleaned_data["name"]
            team = Team.objects.create(organization=org, name=name, slug=slugify(name)[:50])
            messages.success(request, f"Team #{team.slug} created.")
            return redirect("projects:org_settings_team", org.slug, team.slug)
    rows = (
        Team.objects.filter(organization=org)
        .order_by("name")
        .prefetch_related("members__user", "projects")
    )
    return _render(
        request, me, "teams", "projects/org_settings/teams.html", {"rows": rows, "form": form}
    )


def _team(me: Member, team_slug: str) -> Team:
    team = Team.objects.filter(organization=me.organization, slug=team_slug).first()
    if team is None:
        raise Http404("No such team")
    return team


@login_required
def team(request: HttpRequest, org_slug: str, team_slug: str) -> HttpResponse:
    """A team's members and projects; POST `action` = add_member, remove_member,
    add_project, remove_project (with `member` or `project` an id of this organization)."""
    me = get_membership(request, org_slug)
    org = me.organization
    found = _team(me, team_slug)
    if request.method == "POST":
        require_write(me)
        _team_action(request, found)
        return redirect("projects:org_settings_team", org.slug, found.slug)
    team_members = found.members.select_related("user").order_by("user__email")
    team_projects = found.projects.order_by("name")
    return _render(
        request,
        me,
        "teams",
        "projects/org_settings/team.html",
        {
            "team": found,
            "team_members": team_members,
            "team_projects": team_projects,
            "other_members": Member.objects.filter(organization=org)
            .exclude(teams=found)
            .select_related("user")
            .order_by("user__email"),
            "other_projects": Project.objects.filter(organization=org)
            .exclude(teams=found)
            .order_by("name"),
        },
    )


def _team_action(request: HttpRequest, team: Team) -> None:
    action = request.POST.get("action", "")
    org = team.organization
    if action in ("add_member", "remove_member"):
        member = Member.objects.filter(organization=org, pk=_id(request, "member")).first()
        if member is None:
            raise Http404("No such member")
        if action == "add_member":
            member.teams.add(team)
        else:
            member.teams.remove(team)
    elif action in ("add_project", "remove_project"):
        project = Project.objects.filter(organization=org, pk=_id(request, "project")).first()
        if project is None:
            raise Http404("No such project")
        if action == "add_project":
            project.teams.add(team)
        else:
            project.teams.remove(team)
    else:
        raise Http404("No such action")
    messages.success(request, "Team saved.")


def _id(request: HttpRequest, name: str) -> int:
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else 0


@login_required
@require_POST
def team_delete(request: HttpRequest, org_slug: str, team_slug: str) -> HttpResponse:
    me = get_membership(request, org_slug)
    found = _team(me, team_slug)
    require_write(me)
    found.delete()
    messages.success(request, f"Team #{found.slug} deleted.")
    return redirect("projects:org_settings_teams", me.organization.slug)


# --- projects -----------------------------------------------------------------------------


@login_required
def projects(request: HttpRequest, org_slug: str) -> HttpResponse:
    me = get_membership(request, org_slug)
    org = me.organization
    form = NewProjectForm(org, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require_write(me)
        if form.is_valid():
            with transaction.atomic():
                project = Project.create(
                    org, form.cleaned_data["name"], form.cleaned_data["platform"]
                )
                if form.cleaned_data["team"] is not None:
                    project.teams.add(form.cleaned_data["team"])
            messages.success(request, f"Project “{project.name}” created. Send its first event.")
            return redirect("projects:project", org.slug, project.slug)
    rows = Project.objects.filter(organization=org).order_by("name").prefetch_related("teams")
    return _render(
        request,
        me,
        "projects",
        "projects/org_settings/projects.html",
        {"rows": rows, "form": form},
    )
