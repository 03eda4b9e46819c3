"""Periodic jobs, run by exactly one scheduler: an advisory lock on PostgreSQL, a file lock
on SQLite (one data directory, one machine)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import close_old_connections, connections

from spyglass.queue.router import queue_alias

log = logging.getLogger(__name__)

ADVISORY_LOCK_ID = 0x5350_5947  # "SPYG"


@dataclass
class Job:
    name: str
    every: float  # seconds
    run: Callable[[], None]
    # time.monotonic() counts from an arbitrary point (boot, on Linux): "never run" must be
    # earlier than any reading, or an hourly job waits for the first hour of uptime to pass.
    last_run: float = float("-inf")


def prune_rate_counters() -> None:
    """Rate windows that ended more than a day ago can't matter any more."""
    with connections[queue_alias()].cursor() as cursor:
        cursor.execute(
            "DELETE FROM spyglass_rate_counter WHERE window_start < %s", [time.time() - 86400]
        )


def prune_queue_stats() -> None:
    with connections[queue_alias()].cursor() as cursor:
        cursor.execute(
            "DELETE FROM spyglass_queue_stat WHERE minute < %s", [time.time() // 60 - 7 * 1440]
        )


def checkpoint_queue() -> None:
    """Keep the queue's SQLite WAL from growing without bound under constant load."""
    connection = connections[queue_alias()]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def issues_become_ongoing() -> None:
    from spyglass.issues.state import mark_ongoing

    mark_ongoing()


def auto_resolve_issues() -> None:
    """Each project's "resolve issues not seen for N hours" (0 = never)."""
    from spyglass.issues.state import auto_resolve
    from spyglass.projects.models import Project

    for project_id, hours in Project.objects.filter(resolve_age_hours__gt=0).values_list(
        "id", "resolve_age_hours"
    ):
        auto_resolve(project_id, timedelta(hours=hours))


def train_compression_dictionaries() -> None:
    """Per-project zstd dictionaries for event bodies, once a project has enough events."""
    from spyglass.events.bodies import train_dictionaries

    train_dictionaries()


def _oldest_queued() -> tuple[int, float] | None:
    """Id and receive time of the oldest envelope the digest has still to see (set-aside
    ones aside: they were never stored, and may never be)."""
    with connections[queue_alias()].cursor() as cursor:
        cursor.execute(
            "SELECT id, received_at FROM spyglass_queue WHERE failed_at IS NULL ORDER BY id LIMIT 1"
        )
        row = cursor.fetchone()
    return (int(row[0]), float(row[1])) if row else None


def prune_digest_ledger() -> None:
    """The ledger keeps a queue row only while that row can be delivered again."""
    from spyglass.core.models import forget_before, last_recorded

    last = last_recorded()  # before looking at the queue: rows recorded since are kept
    if last is not None:
        oldest = _oldest_queued()
        forget_before(oldest[0] if oldest else last + 1)


def expire_session_states() -> None:
    """Sessions no update can reach any more (Relay's five days) need no state."""
    from spyglass.releases.models import expire_session_states

    oldest = _oldest_queued()
    expire_session_states(datetime.fromtimestamp(oldest[1] if oldest else time.time(), tz=UTC))


def metric_alerts() -> None:
    from spyglass.alerts.metric_alerts import evaluate_all

    evaluate_all()


def prune_performance() -> None:
    """Transactions, spans and their rollups past their retention, in small chunks."""
    from spyglass.performance.tasks import prune_performance

    prune_performance()


def write_closed_windows() -> None:
    """The last 14, 30 and 90 closed days' sketches merged per transaction, for long windows."""
    from spyglass.performance.rollup_store import write_closed_windows

    write_closed_windows()


def prune_alert_history() -> None:
    """Alert fires and metric rule values past 90 days, in small chunks."""
    from spyglass.alerts.prune import prune_history

    prune_history()


def cluster_transaction_names() -> None:
    """Rules for the URL-named transactions' high-cardinality segments (``/users/*/**``)."""
    from spyglass.performance.clustering import discover

    discover()


JOBS = [
    Job("cluster-transaction-names", 3600, cluster_transaction_names),
    Job("prune-rate-counters", 3600, prune_rate_counters),
    Job("prune-queue-stats", 3600, prune_queue_stats),
    Job("checkpoint-queue", 60, checkpoint_queue),
    Job("issues-become-ongoing", 3600, issues_become_ongoing),
    Job("auto-resolve-issues", 3600, auto_resolve_issues),
    Job("train-compression-dictionaries", 600, train_compression_dictionaries),
    Job("prune-digest-ledger", 600, prune_digest_ledger),
    Job("expire-session-states", 3600, expire_session_states),
    Job("prune-performance", 600, prune_performance),
    Job("write-closed-windows", 600, write_closed_windows),
    Job("metric-alerts", 60, metric_alerts),
    Job("prune-alert-history", 3600, prune_alert_history),
]


class Leadership:
    """Held by at most one scheduler at a time."""

    def __init__(self) -> None:
        self._file: IO[str] | None = None
        # The advisory lock lasts as long as the session that took it, so it gets a connection
        # of its own: Django closes its own between jobs (CONN_MAX_AGE), which would let go.
        self._session: Any = None

    def acquire(self) -> bool:
        connection = connections["default"]
        if connection.vendor == "postgresql":
            if self._session is None:
                self._session = connection.get_new_connection(connection.get_connection_params())
                self._session.autocommit = True
            with self._session.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_ID])
                (got,) = cursor.fetchone()
            return bool(got)
        if self._file is None:
            self._file = open(settings.DATA_DIR / "scheduler.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self._session is not None:
            # Closing alone lets go only once the server notices; unlock first, so that
            # another scheduler can take over at once.
            with contextlib.suppress(Exception), self._session.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock_all()")
            self._session.close()
            self._session = None
        if self._file is not None:
            self._file.close()  # and with it the lock
            self._file = None


def run_scheduler(stop: threading.Event, jobs: list[Job] | None = None, tick: float = 1.0) -> None:
    jobs = JOBS if jobs is None else jobs
    leadership = Leadership()
    try:
        while not stop.is_set() and not leadership.acquire():
            log.info("another scheduler is active; waiting")
            stop.wait(10)
        log.info("scheduler started with %d jobs", len(jobs))
        while not stop.is_set():
            now = time.monotonic()
            for job in jobs:
                if now - job.last_run >= job.every:
                    job.last_run = now
                    try:
                        close_old_connections()
                        job.run()
                    except Exception:
                        log.exception("scheduled job %s failed", job.name)
            stop.wait(tick)
        log.info("scheduler stopped")
    finally:
        leadership.release()
