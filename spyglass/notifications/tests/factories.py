"""An issue with an event, the way the digest stores them, and channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from spyglass.events.bodies import compress
from spyglass.events.models import Event, IssueTagValue
from spyglass.issues.models import Issue
from spyglass.notifications.message import Notification
from spyglass.notifications.models import Channel
from spyglass.projects.models import Organization, Project

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EVENT_ID = "0476467adf8f499ea795a48fcc4bf290"


def make_issue(project: Project, **fields: Any) -> Issue:
    values: dict[str, Any] = {
        "number": 7,
        "title": "ValueError: card declined",
        "culprit": "shop.checkout in pay",
        "level": "error",
        "logger": "shop",
        "first_seen": NOW - timedelta(days=2),
        "last_seen": NOW,
        "times_seen": 42,
        "users_seen": 5,
        "first_release": "shop@1.0.0",
        "last_release": "shop@1.2.0",
        "platform": "python",
    }
    values.update(fields)
    issue = Issue.objects.create(project=project, **values)
    data = {
        "event_id": EVENT_ID,
        "level": "error",
        "platform": "python",
        "message": "card declined",
        "exception": {"values": [{"type": "ValueError", "value": "card declined"}]},
        "user": {"id": "u1"},
    }
    Event.objects.create(
        project=project,
        issue=issue,
        event_id=EVENT_ID,
        timestamp=NOW,
        received_at=NOW,
        title=issue.title,
        environment="production",
        release="shop@1.2.0",
        tags=[["environment", "production"], ["release", "shop@1.2.0"], ["browser", "Firefox"]],
        body=compress(project.pk, orjson.dumps(data)),
    )
    for key, value, count in (
        ("browser", "Firefox", 30),
        ("browser", "Chrome", 12),
        ("environment", "production", 42),
    ):
        IssueTagValue.objects.create(
            issue=issue, key=key, value=value, times_seen=count, first_seen=NOW, last_seen=NOW
        )
    return issue


def issue_alert(issue: Issue, **changes: Any) -> Notification:
    values: dict[str, Any] = {
        "kind": "issue_alert",
        "title": issue.title,
        "text": "A new issue was first seen in shop.",
        "url": f"http://spyglass.test/acme/shop/issues/{issue.number}/",
        "level": "error",
        "dedup_key": f"issue-{issue.pk}",
        "rule_name": "New issues",
        "issue_id": issue.pk,
        "event_id": EVENT_ID,
        "fields": {"environment": "production"},
    }
    values.update(changes)
    return Notification(**values)


def make_channel(org: Organization, kind: str, slug: str, **config: Any) -> Channel:
    return Channel.objects.create(organization=org, kind=kind, slug=slug, name=slug, config=config)
