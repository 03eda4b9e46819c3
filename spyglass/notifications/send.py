"""Enqueue notifications: a row in the outbox, written in the caller's transaction.

The worker delivers it after commit (``spyglass.notifications.outbox``), so a rolled-back
transaction sends nothing and a crash after commit loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spyglass.notifications.message import Notification
from spyglass.notifications.models import Channel, Delivery, NotificationPreference


def send(channel: Channel, notification: Notification) -> None:
    """Enqueue one delivery to ``channel`` (durable; delivered by the worker after commit,
    retried with backoff). A broken channel gets the row too, marked skipped, so the log says
    what it missed."""
    enqueue(channel, notification)


def enqueue(channel: Channel, notification: Notification, *, is_test: bool = False) -> Delivery:
    skipped = channel.is_broken and not is_test
    return Delivery.objects.create(
        channel=channel,
        notification=notification.to_json(),
        is_test=is_test,
        status=Delivery.Status.SKIPPED if skipped else Delivery.Status.PENDING,
        last_error="the channel is broken" if skipped else "",
    )


def email_users(user_ids: Iterable[int], notification: Notification) -> None:
    """Enqueue an email to these users (respecting their preferences)."""
    from spyglass.accounts.models import User

    ids = sorted(set(user_ids))
    if not ids:
        return
    users = list(User.objects.filter(pk__in=ids, is_active=True))
    refused = _opted_out(users, notification)
    Delivery.objects.bulk_create(
        Delivery(user=user, notification=notification.to_json())
        for user in users
        if user.pk not in refused and user.email
    )


def _opted_out(users: Sequence[object], notification: Notification) -> set[int]:
    """Users whose preferences turn this email off."""
    from spyglass.notifications.models import ProjectAlertEmail

    ids = [getattr(user, "pk", 0) for user in users]
    if notification.kind == "workflow":
        workflow_kind = notification.fields.get("workflow", "")
        return {
            pref.user_id
            for pref in NotificationPreference.objects.filter(user_id__in=ids)
            if not pref.wants(workflow_kind)
        }
    if notification.kind in ("issue_alert", "metric_alert"):
        project_id = _project_of(notification)
        if project_id is not None:
            return set(
                ProjectAlertEmail.objects.filter(
                    user_id__in=ids, project_id=project_id, enabled=False
                ).values_list("user_id", flat=True)
            )
    return set()


def _project_of(notification: Notification) -> int | None:
    if notification.issue_id is not None:
        from spyglass.issues.models import Issue

        return (
            Issue.objects.filter(pk=notification.issue_id)
            .values_list("project_id", flat=True)
            .first()
        )
    raw = notification.fields.get("project_id", "")
    return int(raw) if raw.isdigit() else None
