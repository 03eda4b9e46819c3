"""The one place alerts reach the notifications app (its ``send`` / ``email_users``
interface): channels by slug, email to users, and the ``Notification`` they take."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from spyglass.notifications import send as outbox
from spyglass.notifications.message import Notification
from spyglass.notifications.models import Channel
from spyglass.projects.models import Member, Organization, Project, Team

log = logging.getLogger(__name__)

EMAIL_ACTION = "sentry.mail.actions.NotifyEmailAction"
SERVICE_ACTION = "sentry.rules.actions.notify_event_service.NotifyEventServiceAction"
# Notification levels by event level.
LEVELS = {"fatal": "critical", "error": "error", "warning": "warning"}


def notification(**fields: Any) -> Notification:
    return Notification(**fields)


def channel(organization: Organization, slug: str) -> Channel | None:
    """The organization's channel with this slug, or None (deleted since the rule named it)."""
    return Channel.objects.filter(organization=organization, slug=slug).first()


def channels(organization: Organization) -> list[Channel]:
    return list(Channel.objects.filter(organization=organization).order_by("name", "id"))


def send_to_channel(organization: Organization, slug: str, message: Notification) -> str | None:
    """Enqueue to the channel; its label for the history, or None when it is gone."""
    found = channel(organization, slug)
    if found is None:
        log.warning("alert names channel %r, which %s doesn't have", slug, organization)
        return None
    outbox.send(found, message)
    return f"channel {slug}"


def email(user_ids: Iterable[int], message: Notification) -> str | None:
    ids = sorted(set(user_ids))
    if not ids:
        return None
    outbox.email_users(ids, message)
    return f"email to {len(ids)} user{'s' if len(ids) != 1 else ''}"


def without_opted_out(user_ids: Iterable[int], project_ids: Iterable[int]) -> list[int]:
    """The users minus those who turned alert email off for every one of these projects: a
    metric rule watches several projects, and one of them still on is reason enough."""
    ids, projects = sorted(set(user_ids)), set(project_ids)
    if not ids or not projects:
        return ids
    from spyglass.notifications.models import ProjectAlertEmail

    off: dict[int, set[int]] = {}
    rows = ProjectAlertEmail.objects.filter(
        user_id__in=ids, project_id__in=projects, enabled=False
    ).values_list("user_id", "project_id")
    for user_id, project_id in rows:
        off.setdefault(user_id, set()).add(project_id)
    return [user_id for user_id in ids if off.get(user_id, set()) != projects]


def team_user_ids(team_id: int) -> list[int]:
    return list(Member.objects.filter(teams=team_id).values_list("user_id", flat=True))


def project_user_ids(project: Project, everyone: bool = False) -> list[int]:
    """The members of the project's teams; the organization's members when it has no team
    (or ``everyone``)."""
    teams = list(Team.objects.filter(projects=project).values_list("id", flat=True))
    members = Member.objects.filter(organization_id=project.organization_id)
    if teams and not everyone:
        members = members.filter(teams__in=teams)
    return list(members.values_list("user_id", flat=True).distinct())


def member_user_ids(organization: Organization, identifier: object) -> list[int]:
    """The user (by id) when it is a member of the organization."""
    try:
        user_id = int(str(identifier))
    except ValueError:
        return []
    return list(
        Member.objects.filter(organization=organization, user_id=user_id).values_list(
            "user_id", flat=True
        )
    )


def describe(action: Mapping[str, Any]) -> str:
    """An action as a sentence (rule lists, forms)."""
    if action.get("id") == SERVICE_ACTION or action.get("type") not in (None, "email"):
        return f"Send a notification via {action.get('service') or action.get('targetIdentifier')}"
    target = action.get("targetType")
    if target in ("IssueOwners", None):
        return "Email the issue's assignee (or the project's team)"
    if target in ("Team", "team"):
        return f"Email team {action.get('targetIdentifier')}"
    return f"Email member {action.get('targetIdentifier')}"
