"""Every state change of an issue: resolve, archive, reopen, regress, escalate.

Users' actions (the UI and the API) call the functions that save and record an Activity.
The digest calls ``on_new_event`` inside its batch transaction: it changes the issue in
memory and returns the activities to record, and the digest saves everything at once.
Semantics follow Sentry (see shared/reference/sentry-semantics.md §5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from spyglass.accounts.models import User
from spyglass.issues import signals
from spyglass.issues.models import (
    Issue,
    Priority,
    Resolution,
    Snooze,
    Status,
    Substatus,
)
from spyglass.releases import ordering

NEW_FOR = timedelta(days=7)  # NEW, REGRESSED and ESCALATING become ONGOING after this
ESCALATION_FACTOR = 10  # an hour with 10x the 7-day hourly average escalates


def initial_priority(level: str) -> int:
    """Sentry's priority for a new error issue, by level (no severity model here)."""
    if level in ("fatal", "error"):
        return Priority.HIGH
    if level == "warning":
        return Priority.MEDIUM
    return Priority.LOW


def _record(issue: Issue, kind: str, user: User | None = None, **data: object) -> None:
    signals.record(issue, kind, user, **data)


# -- users' actions -------------------------------------------------------------------------
@transaction.atomic
def resolve(issue: Issue, user: User | None = None) -> None:
    Resolution.objects.filter(issue=issue).delete()
    Snooze.objects.filter(issue=issue).delete()
    issue.status, issue.substatus, issue.resolved_at = Status.RESOLVED, None, timezone.now()
    issue.save(update_fields=["status", "substatus", "resolved_at"])
    _record(issue, "set_resolved", user)


@transaction.atomic
def resolve_in_release(issue: Issue, version: str, user: User | None = None) -> None:
    """Resolved by ``version``: events from older releases don't reopen it."""
    _resolve_with(issue, Resolution.Kind.IN_RELEASE, version)
    _record(issue, "set_resolved_in_release", user, version=version)


@transaction.atomic
def resolve_in_next_release(issue: Issue, user: User | None = None) -> None:
    """Resolved by whatever release comes after the latest one known now."""
    latest = latest_release(issue)
    _resolve_with(issue, Resolution.Kind.IN_NEXT_RELEASE, latest or "")
    _record(issue, "set_resolved_in_next_release", user, current_release=latest or "")


def _resolve_with(issue: Issue, kind: int, version: str) -> None:
    Snooze.objects.filter(issue=issue).delete()
    Resolution.objects.update_or_create(issue=issue, defaults={"kind": kind, "release": version})
    issue.status, issue.substatus, issue.resolved_at = Status.RESOLVED, None, timezone.now()
    issue.save(update_fields=["status", "substatus", "resolved_at"])


def latest_release(issue: Issue) -> str | None:
    from spyglass.releases.models import Release

    releases = list(
        Release.objects.filter(projects=issue.project_id).values_list(
            "version", "released_at", "created_at"
        )
    )
    if not releases:
        return None
    dates = {v: released or created for v, released, created in releases}
    best = releases[0][0]
    for version, _, _ in releases[1:]:
        if ordering.compare(version, best, dates) == 1:
            best = version
    return best


@dataclass(frozen=True)
class ArchiveCondition:
    forever: bool = False
    until: datetime | None = None  # for a duration
    count: int | None = None  # until N more events (within `window` minutes, if given)
    window: int | None = None
    user_count: int | None = None  # until N more users (within `user_window` minutes)
    user_window: int | None = None

    @property
    def until_escalating(self) -> bool:
        return not (self.forever or self.until or self.count or self.user_count)


@transaction.atomic
def archive(issue: Issue, condition: ArchiveCondition, user: User | None = None) -> None:
    Resolution.objects.filter(issue=issue).delete()
    Snooze.objects.filter(issue=issue).delete()
    if condition.forever:
        substatus = Substatus.FOREVER
    elif condition.until_escalating:
        substatus = Substatus.UNTIL_ESCALATING
    else:
        substatus = Substatus.UNTIL_CONDITION_MET
        Snooze.objects.create(
            issue=issue,
            until=condition.until,
            count=condition.count,
            window=condition.window,
            user_count=condition.user_count,
            user_window=condition.user_window,
            times_seen_at_snooze=issue.times_seen,
            users_seen_at_snooze=issue.users_seen,
        )
    issue.status, issue.substatus = Status.IGNORED, substatus
    issue.save(update_fields=["status", "substatus"])
    _record(issue, "set_ignored", user, substatus=Substatus(substatus).label)


@transaction.atomic
def reopen(issue: Issue, user: User | None = None) -> None:
    Resolution.objects.filter(issue=issue).delete()
    Snooze.objects.filter(issue=issue).delete()
    issue.status, issue.substatus, issue.resolved_at = Status.UNRESOLVED, Substatus.ONGOING, None
    issue.save(update_fields=["status", "substatus", "resolved_at"])
    _record(issue, "set_unresolved", user)


def set_priority(issue: Issue, priority: int, user: User | None = None) -> None:
    """A person's choice: automatic changes leave it alone from now on."""
    issue.priority, issue.priority_locked_at = priority, timezone.now()
    issue.save(update_fields=["priority", "priority_locked_at"])
    _record(issue, "set_priority", user, priority=Priority(priority).label)


# -- what an event does to its issue (called by the digest) ---------------------------------
@dataclass(frozen=True)
class EventFacts:
    timestamp: datetime
    release: str
    release_dates: dict[str, datetime]
    # Events in the last `minutes` (for archive windows and escalation), read lazily.
    events_within: Callable[[int], int]
    hourly_average_7d: Callable[[], float]


def resolution_covers(
    resolution: Resolution | None, release: str, dates: dict[str, datetime]
) -> bool:
    """True when the resolution already accounts for an event from ``release`` (no
    regression). Sentry's GroupResolution.has_resolution."""
    if resolution is None:
        return False
    if not release:
        return True  # an event without a release is assumed to come from an older build
    order = ordering.compare(release, resolution.release, dates)
    if resolution.kind == Resolution.Kind.IN_NEXT_RELEASE:
        return not resolution.release or (order is not None and order <= 0)
    if release == resolution.release:
        return False
    return order == -1


def on_new_event(
    issue: Issue, facts: EventFacts, resolution: Resolution | None, snooze: Snooze | None
) -> list[str]:
    """Apply Sentry's rules for one more event; return the activity kinds to record."""
    if issue.status == Status.RESOLVED:
        if resolution_covers(resolution, facts.release, facts.release_dates):
            return []
        _activate(issue, Substatus.REGRESSED, facts.timestamp)
        _bump_priority(issue)
        return ["set_regression"]
    if issue.status == Status.IGNORED:
        return _check_archive(issue, facts, snooze)
    return []


def _check_archive(issue: Issue, facts: EventFacts, snooze: Snooze | None) -> list[str]:
    if issue.substatus == Substatus.FOREVER:
        return []
    if issue.substatus == Substatus.UNTIL_ESCALATING:
        if _is_escalating(facts):
            _activate(issue, Substatus.ESCALATING, facts.timestamp)
            _bump_priority(issue)
            return ["set_escalating"]
        return []
    if snooze is None:
        return []
    if snooze.until is not None and facts.timestamp >= snooze.until:
        _activate(issue, Substatus.ONGOING, facts.timestamp)
        return ["set_unresolved"]
    if snooze.count is not None:
        seen = (
            facts.events_within(snooze.window)
            if snooze.window
            else issue.times_seen - snooze.times_seen_at_snooze
        )
        if seen >= snooze.count:
            _activate(issue, Substatus.ESCALATING, facts.timestamp)
            return ["set_escalating"]
    if (
        snooze.user_count is not None
        and issue.users_seen - snooze.users_seen_at_snooze >= snooze.user_count
    ):
        _activate(issue, Substatus.ESCALATING, facts.timestamp)
        return ["set_escalating"]
    return []


def _is_escalating(facts: EventFacts) -> bool:
    """Approximation of Sentry's forecast: this hour is over 10x the 7-day hourly average
    (and at least 10 events)."""
    last_hour = facts.events_within(60)
    return last_hour >= ESCALATION_FACTOR * max(1.0, facts.hourly_average_7d())


def _activate(issue: Issue, substatus: int, when: datetime) -> None:
    issue.status, issue.substatus, issue.resolved_at = Status.UNRESOLVED, substatus, None
    issue.active_at = when


def _bump_priority(issue: Issue) -> None:
    if issue.priority_locked_at is None and issue.priority < Priority.HIGH:
        issue.priority = Priority.MEDIUM if issue.priority == Priority.LOW else Priority.HIGH


# -- periodic (scheduler) ---------------------------------------------------------------------
def mark_ongoing(now: datetime | None = None) -> int:
    """NEW, REGRESSED and ESCALATING issues become ONGOING after 7 days (Sentry's
    auto_ongoing_issues); priority returns to the level's initial one unless locked."""
    cutoff = (now or timezone.now()) - NEW_FOR
    stale = Issue.objects.filter(
        status=Status.UNRESOLVED,
        substatus__in=[Substatus.NEW, Substatus.REGRESSED, Substatus.ESCALATING],
        active_at__lte=cutoff,
    )
    return stale.update(substatus=Substatus.ONGOING)


def auto_resolve(project_id: int, age: timedelta, now: datetime | None = None) -> int:
    """Resolve the project's unresolved issues not seen for ``age`` (Sentry's resolve_age)."""
    cutoff = (now or timezone.now()) - age
    issues = list(
        Issue.objects.filter(project_id=project_id, status=Status.UNRESOLVED, last_seen__lte=cutoff)
    )
    for issue in issues:
        with transaction.atomic():
            Resolution.objects.filter(issue=issue).delete()
            issue.status, issue.substatus, issue.resolved_at = Status.RESOLVED, None, timezone.now()
            issue.save(update_fields=["status", "substatus", "resolved_at"])
            _record(issue, "set_resolved_by_age", age_hours=age.total_seconds() / 3600)
    return len(issues)
