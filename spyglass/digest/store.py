"""Store a batch of processed events: one short transaction for the whole batch.

Idempotent on (project, event_id): an envelope delivered twice (at-least-once queue) gives
one event. New hashes create issues; known hashes update theirs (counts, last seen, title and
culprit of the latest event, releases) and go through ``issues.state.on_new_event``
(regression, archive conditions). Tag values, per-minute/hour counts and outcomes are
upserted in bulk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson
from django.db import connection, transaction
from django.db.models import Field

from spyglass.digest import counters
from spyglass.digest.frames import search_frames
from spyglass.digest.types import ProcessedEvent
from spyglass.events.models import Event
from spyglass.issues import state
from spyglass.issues.models import (
    Activity,
    Issue,
    IssueCounter,
    IssueHash,
    Resolution,
    Snooze,
    Status,
    Substatus,
)
from spyglass.performance.models import Transaction as StoredTransaction
from spyglass.projects.models import Project
from spyglass.releases import ordering
from spyglass.releases.models import Release

ISSUE_FIELDS = [
    "title",
    "culprit",
    "metadata",
    "level",
    "last_seen",
    "first_seen",
    "times_seen",
    "users_seen",
    "last_release",
    "status",
    "substatus",
    "priority",
    "active_at",
    "resolved_at",
]


@dataclass
class StoreResult:
    """What a batch changed, for the hooks that run after commit (alerts, …)."""

    events: list[tuple[int, ProcessedEvent]] = field(default_factory=list)  # (issue id, event)
    new_issues: list[int] = field(default_factory=list)
    state_changes: list[tuple[int, str]] = field(default_factory=list)  # (issue id, activity)
    duplicates: int = 0
    # Transactions stored by the batch (performance-issue detectors read them after commit).
    transactions: list[StoredTransaction] = field(default_factory=list)


def compress_event(project_id: int, event: dict[str, Any]) -> bytes:
    from spyglass.events.bodies import compress  # the project's dictionary, once it has one

    return compress(project_id, orjson.dumps(event))


def store_events(events: Sequence[ProcessedEvent], now: datetime) -> StoreResult:
    result = StoreResult()
    if not events:
        return result
    with transaction.atomic():
        _lock_projects({e.project_id for e in events})
        fresh = _without_duplicates(events, result)
        _ensure_releases(fresh)
        issues = _assign_issues(fresh, result)
        _insert_events(result.events)
        counters.count_tags(result.events)
        counters.count_buckets(result.events)
        _update_issues(issues, result, now)
    return result


def _lock_projects(project_ids: set[int]) -> None:
    """PostgreSQL: one digest at a time per project (issue creation must not race). SQLite
    has a single writer anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for project_id in sorted(project_ids):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5350, project_id])


def _without_duplicates(
    events: Sequence[ProcessedEvent], result: StoreResult
) -> list[ProcessedEvent]:
    by_key: dict[tuple[int, str], ProcessedEvent] = {}
    for event in events:
        by_key.setdefault((event.project_id, event.event_id), event)
    existing: set[tuple[int, str]] = set()
    for project_id in {p for p, _ in by_key}:
        ids = [e for p, e in by_key if p == project_id]
        existing.update(
            (project_id, event_id)
            for event_id in Event.objects.filter(
                project_id=project_id, event_id__in=ids
            ).values_list("event_id", flat=True)
        )
    result.duplicates = len(events) - len(by_key) + len(existing)
    fresh = [e for key, e in by_key.items() if key not in existing]
    return sorted(fresh, key=lambda e: e.timestamp)


# (project, version) -> until when this worker trusts the release exists and is linked: every
# batch names the same few releases, and a release deleted meanwhile comes back soon after.
_linked_releases: dict[tuple[int, str], float] = {}
RELEASE_CACHE_SECONDS = 60.0


def _ensure_releases(events: Sequence[ProcessedEvent]) -> None:
    """Create the releases events name; a release new to a project turns its issues'
    "resolved in next release" into "resolved in this release" (as Sentry does)."""
    wanted = {(e.project_id, e.release) for e in events if e.release}
    now = time.monotonic()
    for project_id, version in sorted(wanted):
        if _linked_releases.get((project_id, version), 0.0) > now:
            continue
        project = Project.objects.only("organization_id").get(id=project_id)
        release, _ = Release.objects.get_or_create(
            organization_id=project.organization_id, version=version
        )
        if not release.projects.filter(id=project_id).exists():
            release.projects.add(project_id)
            _next_release_arrived(project_id, version)
        transaction.on_commit(_trust_release(project_id, version, now + RELEASE_CACHE_SECONDS))


def _trust_release(project_id: int, version: str, until: float) -> Callable[[], None]:
    """Remembered only once the batch commits (a rolled back batch created nothing)."""

    def remember() -> None:
        if len(_linked_releases) > 10_000:
            _linked_releases.clear()
        _linked_releases[(project_id, version)] = until

    return remember


def _next_release_arrived(project_id: int, version: str) -> None:
    """Issues resolved "in the next release" are now resolved in ``version`` if it is newer
    than the release they were resolved at (an older release seen late is not "next"; when
    the order can't be told, the release that arrives later is the next one)."""
    pending = Resolution.objects.filter(
        issue__project_id=project_id, kind=Resolution.Kind.IN_NEXT_RELEASE
    )
    for resolution in pending:
        order = ordering.compare(version, resolution.release) if resolution.release else 1
        if order is None or order > 0:
            resolution.kind, resolution.release = Resolution.Kind.IN_RELEASE, version
            resolution.save(update_fields=["kind", "release"])


def _assign_issues(events: Sequence[ProcessedEvent], result: StoreResult) -> dict[int, Issue]:
    known: dict[tuple[int, str], int] = {}
    for project_id in {e.project_id for e in events}:
        hashes = {h for e in events if e.project_id == project_id for h in e.hashes}
        for hash_, issue_id in IssueHash.objects.filter(
            project_id=project_id, hash__in=hashes
        ).values_list("hash", "issue_id"):
            known[(project_id, hash_)] = issue_id
    issues: dict[int, Issue] = Issue.objects.in_bulk(set(known.values()))
    new_hashes: list[IssueHash] = []
    for event in events:
        found = next(
            (known[(event.project_id, h)] for h in event.hashes if (event.project_id, h) in known),
            None,
        )
        if found is None:
            issue = _create_issue(event)
            result.new_issues.append(issue.id)
            issues[issue.id] = issue
        else:
            issue = issues[found]
        for hash_ in event.hashes:
            if (event.project_id, hash_) not in known:
                known[(event.project_id, hash_)] = issue.id
                new_hashes.append(
                    IssueHash(
                        project_id=event.project_id,
                        hash=hash_,
                        issue=issue,
                        grouping_config=event.grouping_config,
                    )
                )
        result.events.append((issue.id, event))
    IssueHash.objects.bulk_create(new_hashes, ignore_conflicts=True)
    return issues


def _create_issue(event: ProcessedEvent) -> Issue:
    counter, _ = IssueCounter.objects.select_for_update().get_or_create(project_id=event.project_id)
    counter.value += 1
    counter.save(update_fields=["value"])
    return Issue.objects.create(
        project_id=event.project_id,
        number=counter.value,
        type=event.type,
        title=event.title[:1024],
        culprit=event.culprit[:1024],
        metadata=event.metadata,
        level=event.level,
        platform=event.platform,
        logger=event.logger[:128],
        first_seen=event.timestamp,
        last_seen=event.timestamp,
        times_seen=0,
        first_release=event.release,
        last_release=event.release,
        substatus=Substatus.NEW,
        priority=state.initial_priority(event.level),
        active_at=event.timestamp,
    )


_EVENT_COLUMNS = [
    "project_id",
    "issue_id",
    "event_id",
    "timestamp",
    "received_at",
    "type",
    "level",
    "platform",
    "release",
    "environment",
    "dist",
    "transaction",
    "title",
    "culprit",
    "message",
    "trace_id",
    "user_key",
    "sdk_name",
    "sdk_version",
    "tags",
    "grouping_config",
    "primary_hash",
    "has_processing_errors",
    "body",
    "size",
    "frames_id",
]


def _insert_events(stored: Sequence[tuple[int, ProcessedEvent]]) -> None:
    """One ``executemany`` of prepared rows (building model instances for bulk_create cost
    more than the insert itself), after counting the events' frames texts into their issues'
    rows, whose ids the events store (``counters.count_frames``)."""
    if not stored:
        return
    tags_field = cast("Field[Any, Any]", Event._meta.get_field("tags"))
    db_time = connection.ops.adapt_datetimefield_value
    bodies: list[tuple[bytes, str]] = []
    for _issue_id, ev in stored:
        if ev.body:
            bodies.append((ev.body, ev.frames))
        else:  # not processed by `digest.events` (tests)
            bodies.append((compress_event(ev.project_id, ev.event), search_frames(ev.event)))
    frames_ids = counters.count_frames(
        (issue_id, text, ev.timestamp)
        for (issue_id, ev), (_body, text) in zip(stored, bodies, strict=True)
    ).get
    rows = []
    for (issue_id, ev), (body, text) in zip(stored, bodies, strict=True):
        rows.append(
            (
                ev.project_id,
                issue_id,
                ev.event_id,
                db_time(ev.timestamp),
                db_time(ev.received_at),
                ev.type,
                ev.level,
                ev.platform[:64],
                ev.release[:250],
                ev.environment[:64],
                ev.dist[:64],
                ev.transaction[:200],
                ev.title[:1024],
                ev.culprit[:1024],
                ev.message,
                ev.trace_id[:32],
                ev.user_key[:200],
                ev.sdk_name[:128],
                ev.sdk_version[:64],
                tags_field.get_db_prep_save([list(t) for t in ev.tags], connection),
                ev.grouping_config,
                ev.hashes[0] if ev.hashes else "",
                ev.has_processing_errors,
                bytes(body),
                len(body),
                frames_ids((issue_id, text)),
            )
        )
    columns = ", ".join(connection.ops.quote_name(c) for c in _EVENT_COLUMNS)
    marks = ", ".join(["%s"] * len(_EVENT_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {Event._meta.db_table} ({columns}) VALUES ({marks})", rows)


def _update_issues(issues: dict[int, Issue], result: StoreResult, now: datetime) -> None:
    new = set(result.new_issues)
    for issue_id, ev in result.events:
        issue = issues[issue_id]
        issue.times_seen += 1
        issue.first_seen = min(issue.first_seen, ev.timestamp)
        if ev.timestamp >= issue.last_seen or issue_id in new:
            issue.last_seen = ev.timestamp
            issue.title, issue.culprit = ev.title[:1024], ev.culprit[:1024]
            issue.metadata, issue.level = ev.metadata, ev.level
            if ev.release:
                issue.last_release = ev.release
    users = counters.refresh_users_seen(issues)
    for issue_id, issue in issues.items():
        issue.users_seen = users.get(issue_id, 0)
    _apply_state(issues, result, new, now)
    _save_issues(issues.values())


def _save_issues(issues: Iterable[Issue]) -> None:
    """One ``executemany`` (Django's bulk_update builds a CASE per field and row, which
    costs more than everything else in the batch)."""
    fields = [cast("Field[Any, Any]", Issue._meta.get_field(name)) for name in ISSUE_FIELDS]
    columns = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in ISSUE_FIELDS)
    rows = [
        [f.get_db_prep_save(getattr(issue, f.attname), connection) for f in fields] + [issue.id]
        for issue in issues
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE issues_issue SET {columns} WHERE id = %s", rows)


def _apply_state(
    issues: dict[int, Issue], result: StoreResult, new: set[int], now: datetime
) -> None:
    latest: dict[int, ProcessedEvent] = {}
    for issue_id, ev in result.events:
        latest[issue_id] = ev
    for issue_id, ev in latest.items():
        issue = issues[issue_id]
        if issue_id in new or issue.status == Status.UNRESOLVED:
            continue  # only resolved and archived issues react to new events
        resolution = Resolution.objects.filter(issue_id=issue_id).first()
        snooze = Snooze.objects.filter(issue_id=issue_id).first()
        facts = state.EventFacts(
            timestamp=ev.timestamp,
            release=ev.release,
            release_dates=_release_dates(ev, resolution),
            events_within=_bind(counters.events_within, issue_id, now),
            hourly_average_7d=_bind_average(issue_id, now),
        )
        for kind in state.on_new_event(issue, facts, resolution, snooze):
            if kind == "set_regression":
                Resolution.objects.filter(issue_id=issue_id).delete()
            if issue.status != Status.IGNORED:  # no longer archived: its condition is spent
                Snooze.objects.filter(issue_id=issue_id).delete()
            Activity.objects.create(issue=issue, kind=kind, data={"version": ev.release})
            result.state_changes.append((issue_id, kind))


def _bind(
    fn: Callable[[int, datetime, int], int], issue_id: int, now: datetime
) -> Callable[[int], int]:
    return lambda minutes: fn(issue_id, now, minutes)


def _bind_average(issue_id: int, now: datetime) -> Callable[[], float]:
    return lambda: counters.hourly_average_7d(issue_id, now)


def _release_dates(ev: ProcessedEvent, resolution: Resolution | None) -> dict[str, datetime]:
    if resolution is None or not ev.release:
        return {}
    versions = {ev.release, resolution.release}
    return {
        version: released or created
        for version, released, created in Release.objects.filter(
            version__in=versions, projects=ev.project_id
        ).values_list("version", "released_at", "created_at")
    }
