"""Depth, age and rates of the queue, for `spyglass queue stats` and the status page."""

from __future__ import annotations

import time
from typing import TypedDict

from django.db import connections

from spyglass.queue.router import queue_alias


class QueueStats(TypedDict):
    depth: int
    claimed: int
    failed: int
    oldest_age_seconds: float | None
    accepted_per_minute: float
    done_per_minute: float
    accepted_last_hour: int
    done_last_hour: int


def queue_stats(window_minutes: int = 5) -> QueueStats:
    now = time.time()
    minute = int(now // 60)
    with connections[queue_alias()].cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(received_at),"
            # A released envelope waiting for its retry has a claimed_until but no worker.
            " sum(CASE WHEN claimed_until > %s AND claimed_by <> '' THEN 1 ELSE 0 END)"
            " FROM spyglass_queue WHERE failed_at IS NULL",
            [now],
        )
        depth, oldest, claimed = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM spyglass_queue WHERE failed_at IS NOT NULL")
        (failed,) = cursor.fetchone()
        # The current minute is partial, so rates use the `window_minutes` before it.
        cursor.execute(
            "SELECT coalesce(sum(accepted), 0), coalesce(sum(done), 0) FROM spyglass_queue_stat"
            " WHERE minute >= %s AND minute < %s",
            [minute - window_minutes, minute],
        )
        accepted, done = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(accepted), 0), coalesce(sum(done), 0) FROM spyglass_queue_stat"
            " WHERE minute > %s",
            [minute - 60],
        )
        accepted_hour, done_hour = cursor.fetchone()
    return {
        "depth": int(depth),
        "claimed": int(claimed or 0),
        "failed": int(failed),
        "oldest_age_seconds": round(now - oldest, 3) if oldest is not None else None,
        "accepted_per_minute": int(accepted) / window_minutes,
        "done_per_minute": int(done) / window_minutes,
        "accepted_last_hour": int(accepted_hour),
        "done_last_hour": int(done_hour),
    }
