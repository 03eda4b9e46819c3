"""User feedback: ``feedback`` items (the feedback widget's events, each an issue of its own
in category feedback, as in Sentry) and legacy ``user_report`` items (linked to the issue of
the event they are about)."""

from __future__ import annotations

from typing import Any

from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items_common import (
    Invalid,
    dict_of,
    envelope_event_id,
    hex_id,
    issues_of,
    moment,
    parsed,
    text,
    user_key,
)
from spyglass.feedback.models import UserFeedback, open_feedback_issues
from spyglass.issues.models import Category, Issue, Priority, Substatus

FEEDBACK_TITLE = "User Feedback"  # Sentry's title of every feedback issue
_UPDATED = ["name", "email", "comments", "issue"]


def _feedback(ctx: ItemContext, payload: dict[str, Any]) -> tuple[UserFeedback, Issue]:
    """The feedback and its issue-to-be (numbered when created)."""
    feedback = dict_of(dict_of(payload.get("contexts")).get("feedback"))
    message = text(feedback.get("message"), 4096)
    if not message.strip():
        raise Invalid("missing_feedback_message")
    row = UserFeedback(
        project_id=ctx.project_id,
        feedback_id=hex_id(payload.get("event_id"), 32) or envelope_event_id(ctx),
        event_id=hex_id(feedback.get("associated_event_id"), 32),
        source=UserFeedback.Source.FEEDBACK,
        name=text(feedback.get("name"), 128),
        email=text(feedback.get("contact_email"), 254),
        comments=message,
        url=text(feedback.get("url") or dict_of(payload.get("request")).get("url"), 1024),
        environment=text(payload.get("environment"), 64),
        release=text(payload.get("release"), 250),
        created_at=moment(payload.get("timestamp")) or ctx.received_at,
    )
    return row, _feedback_issue(ctx, payload, row)


def _feedback_issue(ctx: ItemContext, payload: dict[str, Any], row: UserFeedback) -> Issue:
    metadata = {
        "title": FEEDBACK_TITLE,
        "value": row.comments,  # Sentry's subtitle: the message
        "message": row.comments,
        "name": row.name,
        "contact_email": row.email,
        "source": "new_feedback_envelope",
        "associated_event_id": row.event_id,
    }
    has_user = user_key(dict_of(payload.get("user")), ctx.client_ip) or row.email
    return Issue(
        project_id=row.project_id,
        category=Category.FEEDBACK,
        type="feedback",
        title=FEEDBACK_TITLE,
        culprit=row.url,
        metadata={key: value for key, value in metadata.items() if value},
        level=text(payload.get("level"), 16) or "info",
        platform=text(payload.get("platform"), 64),
        first_seen=row.created_at,
        last_seen=row.created_at,
        times_seen=1,
        users_seen=1 if has_user else 0,
        first_release=row.release,
        last_release=row.release,
        substatus=Substatus.NEW,
        priority=Priority.MEDIUM,
        active_at=row.created_at,
    )


def _user_report(ctx: ItemContext, payload: dict[str, Any]) -> UserFeedback:
    event_id = hex_id(payload.get("event_id"), 32)
    if not event_id:
        raise Invalid("missing_event_id")
    comments = text(payload.get("comments"), 4096)
    if not comments.strip():
        raise Invalid("missing_comments")
    return UserFeedback(
        project_id=ctx.project_id,
        feedback_id=event_id,  # one report per event: a later one replaces it
        event_id=event_id,
        source=UserFeedback.Source.USER_REPORT,
        name=text(payload.get("name"), 128),
        email=text(payload.get("email"), 254),
        comments=comments,
        created_at=ctx.received_at,
    )


def _store_feedback(
    batch: BatchContext, rows: list[UserFeedback], update_fields: list[str]
) -> None:
    issues = issues_of(batch, {(row.project_id, row.event_id) for row in rows})
    for row in rows:
        row.issue_id = issues.get((row.project_id, row.event_id))
        batch.outcomes.add(row.project_id, "user_report_v2", "accepted")
    UserFeedback.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["project", "feedback_id"],
        update_fields=update_fields,
    )


def handle_feedback(batch: BatchContext, items: list[ItemContext]) -> None:
    found = {
        (row.project_id, row.feedback_id): (row, issue)
        for _, (row, issue) in parsed(batch, items, "feedback", _feedback)
    }
    open_feedback_issues(list(found.values()))
    _store_feedback(batch, [row for row, _ in found.values()], [*_UPDATED, "feedback_issue"])


def handle_user_reports(batch: BatchContext, items: list[ItemContext]) -> None:
    found = {
        (row.project_id, row.feedback_id): row
        for _, row in parsed(batch, items, "user_report", _user_report)
    }
    _store_feedback(batch, list(found.values()), _UPDATED)
