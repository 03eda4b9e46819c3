"""Upserts of the digest's counters: issue tag values, per-minute/hour counts, outcomes, and
the issues' distinct frames texts for stack frame search.

Each is one ``executemany`` of pre-aggregated rows per batch, with ``ON CONFLICT … DO
UPDATE`` (the same SQL on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection

from spyglass.digest.types import OutcomeCounts, ProcessedEvent

MINUTE, HOUR = 60, 3600

_TAGS = (
    "INSERT INTO events_issuetagvalue (issue_id, key, value, times_seen, first_seen, last_seen)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (issue_id, key, value) DO UPDATE SET"
    " times_seen = events_issuetagvalue.times_seen + excluded.times_seen,"
    " first_seen = CASE WHEN excluded.first_seen < events_issuetagvalue.first_seen"
    " THEN excluded.first_seen ELSE events_issuetagvalue.first_seen END,"
    " last_seen = CASE WHEN excluded.last_seen > events_issuetagvalue.last_seen"
    " THEN excluded.last_seen ELSE events_issuetagvalue.last_seen END"
)
_COUNTS = (
    "INSERT INTO events_issuecount (issue_id, resolution, bucket, count) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (issue_id, resolution, bucket) DO UPDATE SET"
    " count = events_issuecount.count + excluded.count"
)
_OUTCOMES = (
    "INSERT INTO events_outcome (project_id, hour, category, outcome, reason, quantity)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (project_id, hour, category, outcome, reason) DO UPDATE SET"
    " quantity = events_outcome.quantity + excluded.quantity"
)


_FRAMES_CONFLICT = {"postgresql": "(issue_id, md5(frames))"}  # its unique index's columns
_FRAMES = (
    "INSERT INTO events_issueframes (issue_id, frames, events, last_seen) VALUES {}"
    " ON CONFLICT {} DO UPDATE SET"
    " events = events_issueframes.events + excluded.events,"
    " last_seen = CASE WHEN excluded.last_seen > events_issueframes.last_seen"
    " THEN excluded.last_seen ELSE events_issueframes.last_seen END"
    " RETURNING id, issue_id, frames"
)
FRAMES_ROWS = 500  # (issue, text) rows per upsert statement


def _db_time(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def count_tags(stored: Iterable[tuple[int, ProcessedEvent]]) -> None:
    rows: dict[tuple[int, str, str], tuple[int, datetime, datetime]] = {}
    for issue_id, event in stored:
        when = event.timestamp
        for key, value in event.tags:
            n, first, last = rows.get((issue_id, key, value), (0, when, when))
            rows[(issue_id, key, value)] = (n + 1, min(first, when), max(last, when))
    if rows:
        db_times: dict[datetime, Any] = {}  # a batch's tags share few timestamps

        def db_time(value: datetime) -> Any:
            found = db_times.get(value)
            if found is None:
                found = db_times[value] = _db_time(value)
            return found

        with connection.cursor() as cursor:
            cursor.executemany(
                _TAGS,
                [
                    (issue, key, value, n, db_time(first), db_time(last))
                    for (issue, key, value), (n, first, last) in rows.items()
                ],
            )


def count_frames(
    stored: Iterable[tuple[int, str, datetime]], *, count: bool = True
) -> dict[tuple[int, str], int]:
    """Count new events' frames texts, (issue, frames text, timestamp) each, into the issues'
    distinct texts (events migrations 0008, 0010): one multi-row upsert per ``FRAMES_ROWS``
    issues and texts, which returns each row's id, for the events to name their text by
    (``events_event.frames_id``): {(issue, text): id}. With `count` False, the rows are
    only made to exist (stored events pointed at them later are counted by the triggers)."""
    rows: dict[tuple[int, str], tuple[int, datetime]] = {}
    for issue_id, frames, when in stored:
        if frames:
            n, last = rows.get((issue_id, frames), (0, when))
            rows[(issue_id, frames)] = (n + 1, max(last, when))
    ids: dict[tuple[int, str], int] = {}
    if not rows:
        return ids
    target = _FRAMES_CONFLICT.get(connection.vendor, "(issue_id, frames)")
    items = list(rows.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), FRAMES_ROWS):
            chunk = items[start : start + FRAMES_ROWS]
            params: list[Any] = []
            for (issue, frames), (n, last) in chunk:
                params += (issue, frames, n if count else 0, _db_time(last))
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            cursor.execute(_FRAMES.format(values, target), params)
            for row_id, issue, frames in cursor.fetchall():
                ids[(issue, frames)] = row_id
    return ids


def count_buckets(stored: Iterable[tuple[int, ProcessedEvent]]) -> None:
    rows: dict[tuple[int, int, int], int] = {}
    for issue_id, event in stored:
        seconds = int(event.timestamp.timestamp())
        for resolution in (MINUTE, HOUR):
            key = (issue_id, resolution, seconds - seconds % resolution)
            rows[key] = rows.get(key, 0) + 1
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(_COUNTS, [(*key, n) for key, n in rows.items()])


def write_outcomes(outcomes: OutcomeCounts, now: datetime) -> None:
    if not outcomes.counts:
        return
    seconds = int(now.timestamp())
    hour = seconds - seconds % HOUR
    with connection.cursor() as cursor:
        cursor.executemany(
            _OUTCOMES,
            [
                (project, hour, category, outcome, reason, quantity)
                for (project, category, outcome, reason), quantity in outcomes.counts.items()
            ],
        )


def refresh_users_seen(issue_ids: Iterable[int]) -> dict[int, int]:
    """Distinct users per issue: the number of values of its `user` tag."""
    ids = list(issue_ids)
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT issue_id, count(*) FROM events_issuetagvalue"
            f" WHERE key = 'user' AND issue_id IN ({marks}) GROUP BY issue_id",
            ids,
        )
        return {issue_id: n for issue_id, n in cursor.fetchall()}


def events_within(issue_id: int, now: datetime, minutes: int) -> int:
    start = int(now.timestamp()) - minutes * 60
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(count), 0) FROM events_issuecount"
            " WHERE issue_id = %s AND resolution = %s AND bucket >= %s",
            [issue_id, MINUTE, start - start % MINUTE],
        )
        return int(cursor.fetchone()[0])


def hourly_average_7d(issue_id: int, now: datetime) -> float:
    start = int(now.timestamp()) - 7 * 86400
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(count), 0) FROM events_issuecount"
            " WHERE issue_id = %s AND resolution = %s AND bucket >= %s",
            [issue_id, HOUR, start],
        )
        return int(cursor.fetchone()[0]) / (7 * 24)
