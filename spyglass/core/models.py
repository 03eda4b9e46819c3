"""The digest's ledger of the queue rows whose items it has stored.

The queue delivers at least once: a worker that dies between a batch's commit and the queue's
ack sees the batch again. Events and transactions are stored once by their ids; the items
whose writes add up (session aggregates, outcome counts, check-ins, …) are recorded here in
the batch's own transaction, and skipped when their queue row comes again.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, models


class LedgerEntry(models.Model):
    """The items of one type from one queue row, stored by the digest."""

    pk = models.CompositePrimaryKey("queue_id", "item_type")
    queue_id = models.BigIntegerField()  # never reused by the queue
    item_type = models.CharField(max_length=32)
    # Unix seconds, as in the queue: a queue database started afresh counts its ids from 1
    # again, never with the same received time.
    received_at = models.FloatField()

    class Meta:
        db_table = "spyglass_digest_ledger"

    def __str__(self) -> str:
        return f"{self.item_type} of queue row {self.queue_id}"


_CHUNK = 300
_FORGET_CHUNK = 5000
_CLAIM = (
    "INSERT INTO spyglass_digest_ledger (queue_id, item_type, received_at) VALUES {rows}"
    " ON CONFLICT (queue_id, item_type) DO UPDATE SET received_at = excluded.received_at"
    " WHERE spyglass_digest_ledger.received_at <> excluded.received_at"
    " RETURNING queue_id, item_type"
)


def claim(entries: Iterable[tuple[int, str, float]]) -> set[tuple[int, str]]:
    """Record (queue id, item type, received at) entries; returns those not recorded before.
    Call it in the transaction that stores the items: on PostgreSQL a second worker with the
    same rows waits here until the first commits, and then finds them recorded."""
    unique = sorted({(queue_id, item_type): at for queue_id, item_type, at in entries}.items())
    fresh: set[tuple[int, str]] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            cursor.execute(
                _CLAIM.format(rows=", ".join(["(%s, %s, %s)"] * len(chunk))),
                [
                    value
                    for (queue_id, item_type), at in chunk
                    for value in (queue_id, item_type, at)
                ],
            )
            fresh.update((queue_id, item_type) for queue_id, item_type in cursor.fetchall())
    return fresh


def last_recorded() -> int | None:
    last = LedgerEntry.objects.aggregate(last=models.Max("queue_id"))["last"]
    return None if last is None else int(last)


def forget_before(queue_id: int) -> int:
    """Forget the rows whose queue id is below ``queue_id``, a chunk per transaction (SQLite
    has one writer: the digest must not wait long). Returns how many went."""
    removed = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT queue_id FROM spyglass_digest_ledger WHERE queue_id < %s"
                " ORDER BY queue_id LIMIT 1 OFFSET %s",
                [queue_id, _FORGET_CHUNK],
            )
            row = cursor.fetchone()
            bound = min(queue_id, int(row[0]) + 1) if row else queue_id
            cursor.execute("DELETE FROM spyglass_digest_ledger WHERE queue_id < %s", [bound])
            removed += int(cursor.rowcount)
        if bound == queue_id:
            return removed
