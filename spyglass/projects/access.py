"""Who may see what: every page resolves its organization or project here first.

Anything the user is not a member of is a 404, never a 403: a guessed slug or id must not
tell whether it exists.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from spyglass.accounts.models import User
from spyglass.projects.models import Member, Organization, Project, Role


def signed_in_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "views call this behind login_required"
    return user


def get_membership(request: HttpRequest, org_slug: str) -> Member:
    """The user's membership in the organization (with it), or 404."""
    member = (
        Member.objects.select_related("organization")
        .filter(user=signed_in_user(request), organization__slug=org_slug)
        .first()
    )
    if member is None:
        raise Http404("No such organization")
    return member


def get_project(request: HttpRequest, org_slug: str, project_slug: str) -> tuple[Project, Member]:
    """A project of an organization the user is a member of (and the membership), or 404."""
    member = get_membership(request, org_slug)
    project = (
        Project.objects.select_related("organization")
        .filter(organization=member.organization, slug=project_slug)
        .first()
    )
    if project is None:
        raise Http404("No such project")
    return project, member


def organizations_of(user: User) -> list[Organization]:
    return list(Organization.objects.filter(members__user=user).order_by("name", "id"))


# Sentry's roles that may change settings; a plain member sees them read-only.
WRITE_ROLES = frozenset({Role.OWNER, Role.MANAGER, Role.ADMIN})
# Who may add, remove and change members (an admin manages teams and projects, not people).
MEMBER_ADMIN_ROLES = frozenset({Role.OWNER, Role.MANAGER})


def can_write(member: Member) -> bool:
    return member.role in WRITE_ROLES


def can_manage_members(member: Member) -> bool:
    return member.role in MEMBER_ADMIN_ROLES


def require_write(member: Member) -> None:
    """A write by a member who may only read: 403 (they can see the page, so it exists)."""
    if not can_write(member):
        raise PermissionDenied("Only owners, managers and admins change settings.")
