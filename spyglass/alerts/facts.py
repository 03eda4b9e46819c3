"""What issue alert conditions and filters look at: the issue, the event that made the rule
run, what the batch did to the issue, and its counters (read once per issue and window)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.db.models import Sum

from spyglass.events.models import IssueCount, IssueTagValue
from spyglass.issues.models import Issue

MINUTE, HOUR = 60, 3600


class EventLike(Protocol):
    """The stored event's fields the digest hands to its hooks (``ProcessedEvent``)."""

    project_id: int
    event_id: str
    timestamp: datetime
    type: str
    title: str
    culprit: str
    metadata: dict[str, Any]
    level: str
    platform: str
    release: str
    environment: str
    transaction: str
    message: str
    sdk_name: str
    tags: list[tuple[str, str]]
    body: bytes


@dataclass
class Facts:
    issue: Issue
    event: EventLike
    now: datetime
    is_new: bool = False
    state_changes: frozenset[str] = frozenset()
    _counts: dict[tuple[int, int], int] = field(default_factory=dict)
    _body: dict[str, Any] | None = None

    def events_between(self, start: datetime, end: datetime) -> int:
        """Events of the issue in [start, end), from the per-minute counters when the window
        is an hour or less, else from the hourly ones (whole hours)."""
        lo, hi = int(start.timestamp()), int(end.timestamp())
        key = (lo, hi)
        if key not in self._counts:
            resolution = MINUTE if hi - lo <= HOUR else HOUR
            lo -= lo % resolution
            total = IssueCount.objects.filter(
                issue_id=self.issue.pk, resolution=resolution, bucket__gte=lo, bucket__lt=hi
            ).aggregate(n=Sum("count"))["n"]
            self._counts[key] = int(total or 0)
        return self._counts[key]

    def events_within(self, window: timedelta, shift: timedelta = timedelta(0)) -> int:
        end = self.now - shift + timedelta(seconds=1)  # the current second counts
        return self.events_between(end - window, end)

    def users_within(self, window: timedelta) -> int:
        """Distinct users with an event in the window: the issue's ``user`` tag values last
        seen inside it."""
        return IssueTagValue.objects.filter(
            issue_id=self.issue.pk, key="user", last_seen__gte=self.now - window
        ).count()

    def body(self) -> dict[str, Any]:
        """The whole event (decompressed once, only for filters the columns can't answer)."""
        if self._body is None:
            from spyglass.events.bodies import read_body

            self._body = read_body(self.event.body) if self.event.body else {}
        return self._body

    def tag(self, key: str) -> str | None:
        for k, v in self.event.tags:
            if k == key:
                return v
        return None
