"""The facts a message shows, loaded when it is sent: the issue, its project, the event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from spyglass.notifications.message import Notification

if TYPE_CHECKING:
    from spyglass.events.models import Event
    from spyglass.issues.models import Issue

TOP_TAG_KEYS = 5
# Notification.fields keys that steer delivery and are not shown.
HIDDEN_FIELDS = frozenset({"project_id", "workflow"})


@dataclass
class Facts:
    notification: Notification
    issue: Issue | None = None
    event: Event | None = None
    event_data: dict[str, Any] = field(default_factory=dict)
    project_slug: str = ""
    project_name: str = ""
    tags: list[tuple[str, str]] = field(default_factory=list)  # the event's
    top_tags: list[tuple[str, str, int]] = field(default_factory=list)  # key, value, count

    @property
    def environment(self) -> str:
        return self.notification.fields.get("environment") or (
            self.event.environment if self.event else ""
        )

    @property
    def release(self) -> str:
        return self.notification.fields.get("release") or (
            self.event.release if self.event else (self.issue.last_release if self.issue else "")
        )

    @property
    def culprit(self) -> str:
        return self.issue.culprit if self.issue else ""

    @property
    def first_seen(self) -> datetime | None:
        return self.issue.first_seen if self.issue else None

    def field_rows(self) -> list[tuple[str, str]]:
        """Label and value of every fact worth a line in a message, in a stable order."""
        rows: list[tuple[str, str]] = []
        if self.project_slug:
            rows.append(("Project", self.project_slug))
        if self.issue is not None:
            rows.append(("Level", self.issue.level))
        if self.culprit:
            rows.append(("Culprit", self.culprit))
        if self.environment:
            rows.append(("Environment", self.environment))
        if self.release:
            rows.append(("Release", self.release))
        if self.issue is not None:
            rows.append(("Events", str(self.issue.times_seen)))
            rows.append(("Users", str(self.issue.users_seen)))
            rows.append(("First seen", self.issue.first_seen.strftime("%Y-%m-%d %H:%M UTC")))
        shown = {label.lower() for label, _ in rows}
        for key, value in self.notification.fields.items():
            if key.lower() not in shown and key not in HIDDEN_FIELDS:
                rows.append((key.replace("_", " ").capitalize(), value))
        return rows


def load(notification: Notification) -> Facts:
    from spyglass.events.models import Event, IssueTagValue
    from spyglass.issues.models import Issue

    facts = Facts(notification)
    if notification.issue_id is None:
        return facts
    issue = Issue.objects.select_related("project").filter(pk=notification.issue_id).first()
    if issue is None:
        return facts
    facts.issue = issue
    facts.project_slug, facts.project_name = issue.project.slug, issue.project.name
    if notification.event_id:
        facts.event = Event.objects.filter(
            project_id=issue.project_id, event_id=notification.event_id.replace("-", "")
        ).first()
    if facts.event is None:
        facts.event = Event.objects.filter(issue=issue).order_by("-timestamp").first()
    if facts.event is not None:
        facts.tags = [(str(k), str(v)) for k, v in (facts.event.tags or [])]
        facts.event_data = _body(facts.event)
    facts.top_tags = _top_tags(issue.pk, IssueTagValue)
    return facts


def _body(event: Event) -> dict[str, Any]:
    from spyglass.events.bodies import read_body

    try:
        return read_body(event.body)
    except Exception:  # a body we cannot read still leaves the message its facts
        return {}


def _top_tags(issue_id: int, model: Any) -> list[tuple[str, str, int]]:
    """The most common value of the issue's most common tag keys."""
    best: dict[str, tuple[str, int]] = {}
    rows = model.objects.filter(issue_id=issue_id).order_by("-times_seen")[:200]
    for row in rows.values_list("key", "value", "times_seen"):
        key, value, count = row
        if key not in best:
            best[key] = (value, count)
    ranked = sorted(best.items(), key=lambda item: -item[1][1])[:TOP_TAG_KEYS]
    return [(key, value, count) for key, (value, count) in ranked]
