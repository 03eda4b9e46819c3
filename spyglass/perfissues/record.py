"""Findings become issues: one issue per pattern (its fingerprint), an occurrence with the
evidence per transaction, the issue's counters and state as an error issue's."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least

from spyglass.events.models import IssueCount, IssueTagValue
from spyglass.issues import state
from spyglass.issues.models import (
    Activity,
    Category,
    Issue,
    IssueCounter,
    IssueHash,
    Resolution,
    Snooze,
    Status,
    Substatus,
)
from spyglass.perfissues.detectors import DETECTORS, Problem, Thresholds
from spyglass.perfissues.models import Occurrence, PatternCount
from spyglass.performance.models import Transaction

GROUPING_CONFIG = "performance:2025"
LEVEL = "info"  # Sentry's level of performance issues
NOISE_WINDOW = timedelta(hours=24)


def issue_hash(fingerprint: str) -> str:
    return hashlib.md5(fingerprint.encode(), usedforsecurity=False).hexdigest()


def record(
    tx: Transaction,
    problems: list[Problem],
    settings: dict[str, Thresholds | None],
    *,
    counted: frozenset[str] = frozenset(),
) -> list[int]:
    """Store the problems of one transaction; returns the ids of the issues touched.
    ``counted``: fingerprints an earlier detection of this transaction counted already
    toward their repeat threshold (a segment looked at again once late spans arrived)."""
    touched: list[int] = []
    seen: set[str] = set()
    when = tx.start + timedelta(milliseconds=tx.duration_ms)
    with transaction.atomic():
        for problem in problems:
            fingerprint = problem.fingerprint
            if fingerprint in seen:
                continue  # the same pattern twice in one transaction is one occurrence
            seen.add(fingerprint)
            hash_ = issue_hash(fingerprint)
            found = (
                IssueHash.objects.filter(project_id=tx.project_id, hash=hash_)
                .values_list("issue_id", flat=True)
                .first()
            )
            if found is None and (
                fingerprint in counted
                or not _repeated_enough(tx, problem, fingerprint, settings, when)
            ):
                continue
            issue, is_new = (
                _issue(tx, problem, hash_, when)
                if found is None
                else (
                    _existing(found),
                    False,
                )
            )
            if issue is None:
                continue
            created = _occurrence(tx, issue, problem, when)
            if created:
                _update(issue, tx, when, is_new=is_new)
                touched.append(issue.id)
    return touched


def _repeated_enough(
    tx: Transaction,
    problem: Problem,
    fingerprint: str,
    settings: dict[str, Thresholds | None],
    when: datetime,
) -> bool:
    """True unless the detector waits for its pattern to repeat within a day."""
    thresholds = settings.get(problem.detector) or DETECTORS[problem.detector].defaults()
    needed = thresholds.get("occurrences")
    if not needed or needed <= 1:
        return True
    counter, _ = PatternCount.objects.select_for_update().get_or_create(
        project_id=tx.project_id, fingerprint=fingerprint, defaults={"window_start": when}
    )
    if when - counter.window_start > NOISE_WINDOW:
        counter.count, counter.window_start = 0, when
    counter.count += 1
    counter.save(update_fields=["count", "window_start"])
    return counter.count >= needed


def _existing(issue_id: int) -> Issue | None:
    return Issue.objects.select_for_update().filter(id=issue_id).first()


def _issue(
    tx: Transaction, problem: Problem, hash_: str, when: datetime
) -> tuple[Issue | None, bool]:
    """A new issue for the pattern, or the one another worker created meanwhile: the
    project's counter row is the lock, so the hash is looked up again once holding it."""
    detector = DETECTORS[problem.detector]
    counter, _ = IssueCounter.objects.select_for_update().get_or_create(project_id=tx.project_id)
    raced = (
        IssueHash.objects.filter(project_id=tx.project_id, hash=hash_)
        .values_list("issue_id", flat=True)
        .first()
    )
    if raced is not None:
        return _existing(raced), False
    counter.value += 1
    counter.save(update_fields=["value"])
    issue = Issue.objects.create(
        project_id=tx.project_id,
        number=counter.value,
        category=Category.PERFORMANCE,
        type="transaction",
        title=detector.title,
        culprit=tx.name[:1024],
        metadata=_metadata(problem),
        level=LEVEL,
        platform=tx.platform,
        first_seen=when,
        last_seen=when,
        times_seen=0,
        first_release=tx.release,
        last_release=tx.release,
        substatus=Substatus.NEW,
        priority=state.initial_priority(LEVEL),
        active_at=when,
    )
    IssueHash.objects.create(
        project_id=tx.project_id, hash=hash_, issue=issue, grouping_config=GROUPING_CONFIG
    )
    return issue, True


def _metadata(problem: Problem) -> dict[str, object]:
    detector = DETECTORS[problem.detector]
    return {
        "title": detector.title,
        "value": problem.value[:1024],
        "issue_type": detector.issue_type,
        "type_id": detector.type_id,
        "fingerprint": problem.fingerprint,
    }


def _occurrence(tx: Transaction, issue: Issue, problem: Problem, when: datetime) -> bool:
    evidence = {
        "value": problem.value[:2000],
        "offenders": [s.evidence() for s in problem.offenders[:50]],
        "offender_count": len(problem.offenders),
        "parent": problem.parent.evidence() if problem.parent else None,
        "causes": [s.evidence() for s in problem.causes[:10]],
    }
    _, created = Occurrence.objects.get_or_create(
        issue=issue,
        transaction_event_id=tx.event_id,
        defaults={
            "project_id": tx.project_id,
            "detector": problem.detector,
            "transaction_name": tx.name,
            "trace_id": tx.trace_id,
            "timestamp": when,
            "duration_ms": tx.duration_ms,
            "user_key": tx.user_key,
            "evidence": evidence,
        },
    )
    return created


def _update(issue: Issue, tx: Transaction, when: datetime, *, is_new: bool) -> None:
    issue.times_seen += 1
    issue.first_seen = min(issue.first_seen, when)
    if when >= issue.last_seen:
        issue.last_seen = when
        issue.culprit = tx.name[:1024]
        if tx.release:
            issue.last_release = tx.release
    users = (
        Occurrence.objects.filter(issue=issue)
        .exclude(user_key="")
        .values("user_key")
        .distinct()
        .count()
    )
    issue.users_seen = users
    if not is_new and issue.status != Status.UNRESOLVED:
        _apply_state(issue, tx, when)
    issue.save()
    _count(issue.id, when)
    _count_tags(issue.id, tx, when)


def _apply_state(issue: Issue, tx: Transaction, when: datetime) -> None:
    """Regression and archive conditions, exactly as for an error issue's event."""
    resolution = Resolution.objects.filter(issue=issue).first()
    snooze = Snooze.objects.filter(issue=issue).first()
    facts = state.EventFacts(
        timestamp=when,
        release=tx.release,
        release_dates={},
        events_within=lambda minutes: Occurrence.objects.filter(
            issue=issue, timestamp__gte=when - timedelta(minutes=minutes)
        ).count(),
        hourly_average_7d=lambda: (
            Occurrence.objects.filter(issue=issue, timestamp__gte=when - timedelta(days=7)).count()
            / (7 * 24)
        ),
    )
    for kind in state.on_new_event(issue, facts, resolution, snooze):
        if kind == "set_regression":
            Resolution.objects.filter(issue=issue).delete()
        if issue.status != Status.IGNORED:
            Snooze.objects.filter(issue=issue).delete()
        Activity.objects.create(issue=issue, kind=kind, data={"version": tx.release})


def _count(issue_id: int, when: datetime) -> None:
    """The issue's per-minute and per-hour counts (its page's charts read them)."""
    seconds = int(when.timestamp())
    for resolution in (60, 3600):
        bucket = seconds - seconds % resolution
        updated = IssueCount.objects.filter(
            issue_id=issue_id, resolution=resolution, bucket=bucket
        ).update(count=F("count") + 1)
        if not updated:
            IssueCount.objects.create(
                issue_id=issue_id, resolution=resolution, bucket=bucket, count=1
            )


# A transaction's fields that are tags of its issue, as an error event's are (tag key: field).
_FIELD_TAGS = (
    ("environment", "environment"),
    ("release", "release"),
    ("transaction", "name"),
    ("user", "user_key"),
)
TAG_LENGTH = 200  # IssueTagValue's key and value columns


def transaction_tags(tx: Transaction) -> dict[str, str]:
    """The tags an occurrence counts for its issue: level, the transaction's environment,
    release, name and user, and the tags it was sent with."""
    tags = {"level": LEVEL}
    for pair in tx.tags if isinstance(tx.tags, list) else ():
        if isinstance(pair, list | tuple) and len(pair) == 2:
            key, value = str(pair[0])[:TAG_LENGTH], str(pair[1])[:TAG_LENGTH]
            if key and value:
                tags.setdefault(key, value)
    for key, field in _FIELD_TAGS:
        value = str(getattr(tx, field) or "")[:TAG_LENGTH]
        if value:
            tags[key] = value
    return tags


def _count_tags(issue_id: int, tx: Transaction, when: datetime) -> None:
    """The issue's tag distributions (its page's tags, and issue search by tag: `release:`,
    `environment:`, `transaction:`, any `tags[…]`), one occurrence at a time."""
    for key, value in transaction_tags(tx).items():
        updated = IssueTagValue.objects.filter(issue_id=issue_id, key=key, value=value).update(
            times_seen=F("times_seen") + 1,
            first_seen=Least("first_seen", when),
            last_seen=Greatest("last_seen", when),
        )
        if not updated:
            IssueTagValue.objects.create(
                issue_id=issue_id,
                key=key,
                value=value,
                times_seen=1,
                first_seen=when,
                last_seen=when,
            )
