"""Workflow email to users: an issue assigned to you (or your team), a regression of an issue
you follow, a comment on an issue you follow. Each user's preferences decide
(``NotificationPreference``); whoever did it is not told about it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from spyglass.notifications.message import Notification
from spyglass.notifications.models import WorkflowKind
from spyglass.notifications.send import email_users


def connect() -> None:
    from spyglass.issues.signals import issue_activity

    issue_activity.connect(on_activity, dispatch_uid="spyglass.notifications.workflow")


def on_activity(sender: Any, activity: Any, **_: Any) -> None:
    from spyglass.issues.models import Issue

    issue = Issue.objects.select_related("project__organization").get(pk=activity.issue_id)
    found = _recipients_and_message(activity, issue)
    if found is None:
        return
    user_ids, kind, title, text = found
    user_ids = _members_only(issue, user_ids - {activity.user_id})
    if not user_ids:
        return
    org, project = issue.project.organization, issue.project
    path = reverse("issues:detail", args=(org.slug, project.slug, issue.number))
    email_users(
        sorted(user_ids),
        Notification(
            kind="workflow",
            title=title,
            text=text,
            url=f"{settings.BASE_URL}{path}",
            level="resolved" if kind == "resolved" else "info",
            dedup_key=f"issue-{issue.pk}",
            issue_id=issue.pk,
            fields={"workflow": kind, "Issue": f"{issue.short_id}: {issue.title}"},
        ),
    )


def _actor(activity: Any) -> str:
    user = activity.user
    return (user.name or user.email) if user is not None else "Spyglass"


def _recipients_and_message(activity: Any, issue: Any) -> tuple[set[int], str, str, str] | None:
    data = activity.data or {}
    if activity.kind == "assigned":
        if data.get("assigneeType") == "team":
            ids = _team_users(str(data.get("assignee", "")))
            who = f"your team {data.get('assigneeName', '')}".strip()
        else:
            assignee = str(data.get("assignee", ""))
            ids = {int(assignee)} if assignee.isdigit() else set()
            who = "you"
        title = f"{issue.short_id} was assigned to {who}"
        return (
            ids,
            WorkflowKind.ASSIGNED,
            title,
            f"{_actor(activity)} assigned {issue.title} to {who}.",
        )
    if activity.kind == "set_regression":
        title = f"Regression: {issue.short_id} {issue.title}"
        text = "An issue you follow was resolved and has been seen again."
        return _followers(issue), WorkflowKind.REGRESSION, title, text
    if activity.kind == "note":
        title = f"New comment on {issue.short_id}"
        text = f"{_actor(activity)} wrote: {str(data.get('text', ''))[:2000]}"
        return _followers(issue), WorkflowKind.COMMENT, title, text
    return None


def _followers(issue: Any) -> set[int]:
    from spyglass.issues.models import IssueSubscription

    return set(
        IssueSubscription.objects.filter(issue=issue, is_active=True).values_list(
            "user_id", flat=True
        )
    )


def _team_users(team_id: str) -> set[int]:
    from spyglass.projects.models import Member

    if not team_id.isdigit():
        return set()
    return set(Member.objects.filter(teams__id=int(team_id)).values_list("user_id", flat=True))


def _members_only(issue: Any, user_ids: set[int]) -> set[int]:
    """Someone who left the organization hears nothing more about its issues."""
    from spyglass.projects.models import Member

    return set(
        Member.objects.filter(
            organization_id=issue.project.organization_id, user_id__in=user_ids
        ).values_list("user_id", flat=True)
    )
