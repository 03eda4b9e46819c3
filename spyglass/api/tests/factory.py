"""Issues and events for the API tests, made directly in the database (bodies compressed as
the digest stores them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from spyglass.accounts.models import ApiToken, User
from spyglass.events.bodies import compress
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.issues.models import Issue, IssueCounter, Status
from spyglass.projects.models import Project

NOW = datetime.now(UTC).replace(microsecond=0)
H = timedelta(hours=1)


def token_for(user: User, scopes: tuple[str, ...] = ("event:read", "project:read")) -> str:
    return ApiToken.issue(user, scopes=scopes)[1]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_issue(
    project: Project,
    title: str,
    *,
    last_seen: datetime = NOW - H,
    first_seen: datetime = NOW - 24 * H,
    times_seen: int = 1,
    status: int = Status.UNRESOLVED,
    environment: str = "production",
    events: int = 1,
) -> Issue:
    counter, _ = IssueCounter.objects.get_or_create(project=project)
    counter.value += 1
    counter.save()
    issue = Issue.objects.create(
        project=project,
        number=counter.value,
        title=title,
        culprit="app.views in index",
        metadata={"type": title.split(":")[0], "value": title},
        level="error",
        platform="python",
        first_seen=first_seen,
        last_seen=last_seen,
        times_seen=times_seen,
        users_seen=1,
        first_release="api@1.0.0",
        last_release="api@1.1.0",
        status=status,
        substatus=7 if status == Status.UNRESOLVED else None,
    )
    IssueTagValue.objects.create(
        issue=issue,
        key="environment",
        value=environment,
        times_seen=events,
        first_seen=first_seen,
        last_seen=last_seen,
    )
    for n in range(events):
        add_event(issue, f"{issue.pk:016x}{n:016x}", last_seen - n * timedelta(minutes=1))
    return issue


def add_event(issue: Issue, event_id: str, at: datetime, **fields: Any) -> Event:
    body = {
        "event_id": event_id,
        "level": "error",
        "platform": "python",
        "timestamp": at.timestamp(),
        "exception": {"values": [{"type": "ValueError", "value": issue.title}]},
        "breadcrumbs": {"values": [{"message": "clicked", "category": "ui.click"}]},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.2"}},
        "sdk": {"name": "sentry.python", "version": "2.19.0"},
        "user": {"id": "42"},
        "tags": [["environment", "production"], ["server_name", "web-1"]],
    }
    return Event.objects.create(
        project=issue.project,
        issue=issue,
        event_id=event_id,
        timestamp=at,
        received_at=at,
        platform="python",
        environment=fields.get("environment", "production"),
        release=fields.get("release", "api@1.1.0"),
        title=issue.title,
        culprit=issue.culprit,
        message=fields.get("message", issue.title),
        user_key="id:42",
        tags=[["environment", "production"], ["server_name", "web-1"]],
        body=compress(issue.project_id, orjson.dumps(body)),
    )


def add_counts(issue: Issue, hours_ago: int, count: int, now: datetime) -> None:
    bucket = (int(now.timestamp()) // 3600 - hours_ago) * 3600
    IssueCount.objects.create(issue=issue, resolution=3600, bucket=bucket, count=count)
