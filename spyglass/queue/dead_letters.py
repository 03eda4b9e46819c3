"""Envelopes the digest set aside after too many attempts (dead letters): list them, send
them back to the queue, or discard them. The status page and `spyglass queue` share this.

Only rows that are set aside (``failed_at`` set) are ever touched, so an id that went back to
the queue meanwhile, or that a worker holds, is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Length

from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.router import queue_alias

# Ids per statement: far below SQLite's and PostgreSQL's limits on parameters.
_CHUNK = 500


@dataclass(frozen=True)
class DeadLetter:
    id: int
    project_id: int
    event_id: str
    received_at: datetime
    failed_at: datetime | None
    attempts: int
    last_error: str
    size: int  # stored bytes (as the client compressed them)
    content_encoding: str


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def failed() -> QuerySet[QueuedEnvelope]:
    """Set-aside envelopes, the most recently failed first, without their bodies."""
    return (
        QueuedEnvelope.objects.filter(failed_at__isnull=False)
        .defer("body")
        .annotate(size=Length("body"))
        .order_by("-failed_at", "-id")
    )


def as_dead_letters(rows: Iterable[QueuedEnvelope]) -> list[DeadLetter]:
    return [
        DeadLetter(
            id=row.id,
            project_id=row.project_id,
            event_id=row.event_id,
            received_at=datetime.fromtimestamp(row.received_at, tz=UTC),
            failed_at=_when(row.failed_at),
            attempts=row.attempts,
            last_error=row.last_error,
            size=int(getattr(row, "size", 0) or 0),
            content_encoding=row.content_encoding,
        )
        for row in rows
    ]


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    unique = sorted(set(ids))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


def _scopes(ids: Sequence[int] | None) -> Iterator[QuerySet[QueuedEnvelope]]:
    """The set-aside rows among ``ids`` (all of them when ``ids`` is None), chunk by chunk."""
    rows = QueuedEnvelope.objects.filter(failed_at__isnull=False)
    if ids is None:
        yield rows
        return
    for chunk in _chunks(ids):
        yield rows.filter(id__in=chunk)


def set_aside(ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` are set aside."""
    found: set[int] = set()
    for rows in _scopes(ids):
        found.update(rows.values_list("id", flat=True))
    return found


def retry(ids: Sequence[int] | None) -> int:
    """Send set-aside envelopes back to the queue with their attempts reset; how many went.

    ``ids=None`` means every set-aside envelope."""
    count = 0
    with transaction.atomic(using=queue_alias()):
        for rows in _scopes(ids):
            count += rows.update(
                failed_at=None, attempts=0, claimed_until=None, claimed_by="", last_error=""
            )
    return count


def discard(ids: Sequence[int] | None) -> int:
    """Delete set-aside envelopes for good; how many went. ``ids=None`` means all of them."""
    count = 0
    with transaction.atomic(using=queue_alias()):
        for rows in _scopes(ids):
            count += rows.delete()[0]
    return count
