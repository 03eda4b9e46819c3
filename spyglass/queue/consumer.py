"""The worker side of the queue: claim a batch, then ack it or release it.

Delivery is at least once: a claimed batch whose worker dies becomes claimable again when its
lease runs out, so consumers must be idempotent on (project, event id). An envelope that
failed ``QUEUE_MAX_ATTEMPTS`` times is set aside (``failed_at``) instead of blocking the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from spyglass.protocol.encoding import decode_all
from spyglass.queue.router import queue_alias

_COLUMNS = (
    "id, project_id, key_id, received_at, event_id, client_ip, user_agent,"
    " content_encoding, body, attempts"
)


@dataclass(frozen=True)
class QueuedItem:
    id: int
    project_id: int
    key_id: int
    received_at: float
    event_id: str
    client_ip: str
    user_agent: str
    content_encoding: str
    body: bytes
    attempts: int

    def envelope_bytes(self) -> bytes:
        """The envelope as the client meant it, decompressed."""
        return decode_all(self.content_encoding, self.body, settings.MAX_ENVELOPE_SIZE)


def _item(row: tuple[Any, ...]) -> QueuedItem:
    return QueuedItem(
        id=row[0],
        project_id=row[1],
        key_id=row[2],
        received_at=row[3],
        event_id=row[4],
        client_ip=row[5],
        user_agent=row[6],
        content_encoding=row[7],
        body=bytes(row[8]),
        attempts=row[9],
    )


# Rows a claim or an ack changes per write transaction (a batch may take several).
TURN = 100
PAUSE = 0.001  # seconds between turns: the kernel wakes a waiter, which needs a moment to run


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


@contextlib.contextmanager
def writer_turn(alias: str) -> Iterator[None]:
    """A write transaction on the queue database. On SQLite, first the file lock the ingest
    writers take turns with (``writer.QueueConnection``): waiting in SQLite's busy handler
    instead, which only looks again after sleeps of up to 100 ms, a worker could wait out its
    whole timeout while ingest at full speed hands the lock from commit to commit."""
    wrapper = connections[alias]
    if wrapper.vendor != "sqlite":
        with transaction.atomic(using=alias):
            yield
        return
    with open(str(wrapper.settings_dict["NAME"]) + ".writer-lock", "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with transaction.atomic(using=alias):
                yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Consumer:
    def __init__(
        self,
        worker_id: str | None = None,
        *,
        lease_seconds: float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds or settings.QUEUE_LEASE_SECONDS
        self.max_attempts = max_attempts or settings.QUEUE_MAX_ATTEMPTS
        self.alias = queue_alias()

    def claim(self, limit: int = 100) -> list[QueuedItem]:
        """Lease up to ``limit`` envelopes, oldest first, ``TURN`` at a time: on SQLite each
        turn holds the lock the ingest edge commits under (a lease rewrites the rows, bodies
        included), so the edge waits for one short turn at most, not for the whole batch."""
        items: list[QueuedItem] = []
        while len(items) < limit:
            want = min(TURN, limit - len(items))
            leased, usable = self._claim(want)
            items += usable
            if leased < want:
                break
            time.sleep(PAUSE)  # a waiting edge commit takes the lock before the next turn
        return items

    def _claim(self, limit: int) -> tuple[int, list[QueuedItem]]:
        """(how many rows were leased, those under the attempts limit)."""
        now = time.time()
        lock = " FOR UPDATE SKIP LOCKED" if connections[self.alias].vendor == "postgresql" else ""
        sql = (
            "UPDATE spyglass_queue SET claimed_until = %s, claimed_by = %s,"
            " attempts = attempts + 1 WHERE id IN (SELECT id FROM spyglass_queue"
            " WHERE failed_at IS NULL AND (claimed_until IS NULL OR claimed_until < %s)"
            f" ORDER BY id LIMIT %s{lock}) RETURNING {_COLUMNS}"
        )
        with writer_turn(self.alias), connections[self.alias].cursor() as cursor:
            cursor.execute(sql, [now + self.lease_seconds, self.worker_id, now, limit])
            rows = cursor.fetchall()
            items = sorted(
                (_item(row) for row in rows),
                key=lambda item: item.id,
            )
            poisoned = [item.id for item in items if item.attempts > self.max_attempts]
            if poisoned:
                cursor.execute(
                    "UPDATE spyglass_queue SET failed_at = %s, claimed_until = NULL"
                    f" WHERE id IN ({_placeholders(len(poisoned))})",
                    [now, *poisoned],
                )
        return len(items), [item for item in items if item.attempts <= self.max_attempts]

    def ack(self, ids: Sequence[int]) -> None:
        """Done with these: remove them from the queue (``TURN`` at a time, as claims)."""
        for start in range(0, len(ids), TURN):
            if start:
                time.sleep(PAUSE)
            self._ack(ids[start : start + TURN])

    def _ack(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        minute = int(time.time() // 60)
        with writer_turn(self.alias), connections[self.alias].cursor() as cursor:
            cursor.execute(
                f"DELETE FROM spyglass_queue WHERE id IN ({_placeholders(len(ids))})", list(ids)
            )
            # Count what this ack removed: after a lease ran out, two workers may ack one row.
            done = cursor.rowcount
            if done > 0:
                cursor.execute(
                    "INSERT INTO spyglass_queue_stat (minute, accepted, done) VALUES (%s, 0, %s)"
                    " ON CONFLICT (minute) DO UPDATE SET done = spyglass_queue_stat.done + %s",
                    [minute, done, done],
                )

    def release(self, ids: Sequence[int], *, error: str = "", retry_in: float = 0.0) -> None:
        """Give these back, claimable again after ``retry_in`` seconds."""
        if not ids:
            return
        with writer_turn(self.alias), connections[self.alias].cursor() as cursor:
            cursor.execute(
                "UPDATE spyglass_queue SET claimed_until = %s, claimed_by = '', last_error = %s"
                # Only rows still ours: after our lease ran out another worker may hold them.
                f" WHERE claimed_by = %s AND id IN ({_placeholders(len(ids))})",
                [time.time() + retry_in if retry_in else None, error[:2000], self.worker_id, *ids],
            )
